"""The NAS-Bench-201 table shipped with nasgym: load once, look up a cell in O(1).

>>> from nasgym.tables.nb201 import load_nb201
>>> table = load_nb201()
>>> i = table.index_of([3, 3, 3, 3, 3, 3])        # op indices in NB201_OPS order
>>> table.arch_str(i)
'|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
>>> round(float(table.test_acc_200("cifar10")[i]), 2)
93.76
"""

from __future__ import annotations

import difflib
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201_OPS

DEFAULT_PATH = Path(__file__).resolve().parent / "nb201.npz"
N_CELLS = 5**6

#: canonical data set name -> (short key, 12-epoch valid column, 12-epoch test column, 200-epoch test column)
DATASET_COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "cifar10": ("c10", "c10valid_valid_12", "c10_test_12", "c10_test_200"),
    "cifar100": ("c100", "c100_valid_12", "c100_test_12", "c100_test_200"),
    "ImageNet16-120": ("in16", "in16_valid_12", "in16_test_12", "in16_test_200"),
}
_ALIASES: dict[str, str] = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "c10": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
    "c100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
    "in16": "ImageNet16-120",
}
_REQUIRED = (
    "ops",
    "op_names",
    "code_to_index",
    "acc",
    "acc_columns",
    "train_time_12",
    "params_M",
    "flops_M",
    "cost_datasets",
    "latency_ms",
    "devices",
)
_POW5 = 5 ** np.arange(5, -1, -1)


class TableError(ValueError):
    """The NB201 table file is missing, corrupt or inconsistent."""


def canonical_dataset(name: str) -> str:
    """``cifar10``, ``cifar100`` or ``ImageNet16-120`` for ``name`` or an alias (KeyError if unknown)."""
    key = str(name).lower()
    if key in _ALIASES:
        return _ALIASES[key]
    close = difflib.get_close_matches(key, list(_ALIASES), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"unknown NB201 data set {name!r}.{hint} Choose from {list(DATASET_COLUMNS)}")


class NB201Table:
    """All 15,625 NB201 cells (official index order) with accuracies, costs and latencies.

    Attributes: ``ops`` (15625 x 6 uint8), ``acc`` (15625 x 12, percent, columns
    ``acc_columns``), ``train_time_12`` (s), ``params_M`` / ``flops_M`` (15625 x 3 for
    c10, c100, in16), ``latency_ms`` (15625 x n_devices, columns ``devices``).
    """

    def __init__(self, arrays: dict[str, np.ndarray], path: Path) -> None:
        self.path = path
        self.ops = arrays["ops"]
        self.code_to_index = arrays["code_to_index"].astype(np.int64)
        self.acc = arrays["acc"]
        self.acc_columns = tuple(str(c) for c in arrays["acc_columns"])
        self.train_time_12 = arrays["train_time_12"]
        self.params_M = arrays["params_M"]
        self.flops_M = arrays["flops_M"]
        self.cost_datasets = tuple(str(c) for c in arrays["cost_datasets"])
        self.latency_ms = arrays["latency_ms"]
        self.devices = tuple(str(d) for d in arrays["devices"])
        self._check(arrays)

    def _check(self, arrays: dict[str, np.ndarray]) -> None:
        if tuple(str(o) for o in arrays["op_names"]) != NB201_OPS:
            raise TableError(f"{self.path}: op order {arrays['op_names']} differs from {NB201_OPS}")
        rows = {
            len(a) for a in (self.ops, self.acc, self.train_time_12, self.params_M, self.latency_ms)
        }
        if rows != {N_CELLS} or self.ops.shape[1] != 6:
            raise TableError(
                f"{self.path}: arrays do not all have {N_CELLS} rows; rebuild the table"
            )
        if self.latency_ms.shape[1] != len(self.devices) or self.acc.shape[1] != len(
            self.acc_columns
        ):
            raise TableError(
                f"{self.path}: column names do not match the arrays; rebuild the table"
            )
        codes = self.ops.astype(np.int64) @ _POW5
        if not np.array_equal(self.code_to_index[codes], np.arange(N_CELLS)):
            raise TableError(f"{self.path}: index array disagrees with the op table; rebuild it")

    # ----------------------------------------------------------------- lookup
    def index_of(self, op_indices: Sequence[int] | np.ndarray) -> int:
        """Official index of the cell with these 6 op indices (ValueError if malformed)."""
        idx = np.asarray(op_indices, dtype=np.int64).reshape(-1)
        if idx.shape != (6,) or idx.min() < 0 or idx.max() > 4:
            raise ValueError(
                f"NB201 cells need 6 op indices in [0, 4], got {np.asarray(op_indices).tolist()}"
            )
        return int(self.code_to_index[int(idx @ _POW5)])

    def arch_str(self, index: int) -> str:
        """NAS-Bench-201 arch string of cell ``index``."""
        o = [NB201_OPS[k] for k in self.ops[index]]
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    def column(self, name: str) -> np.ndarray:
        """Accuracy column ``name`` (percent), e.g. ``c10valid_valid_12``."""
        if name not in self.acc_columns:
            close = difflib.get_close_matches(name, self.acc_columns, n=3)
            raise KeyError(
                f"unknown NB201 column {name!r}; did you mean {close}? Columns: {self.acc_columns}"
            )
        return self.acc[:, self.acc_columns.index(name)]

    def valid_acc_12(self, dataset: str) -> np.ndarray:
        """12-epoch validation accuracy (percent): the search signal of the NB201 protocol."""
        return self.column(DATASET_COLUMNS[canonical_dataset(dataset)][1])

    def test_acc_200(self, dataset: str) -> np.ndarray:
        """200-epoch test accuracy (percent): the number NB201 reports for the chosen cell."""
        return self.column(DATASET_COLUMNS[canonical_dataset(dataset)][3])

    def params(self, dataset: str) -> np.ndarray:
        """Parameters (millions) of every cell's network for ``dataset``."""
        return self.params_M[
            :, self.cost_datasets.index(DATASET_COLUMNS[canonical_dataset(dataset)][0])
        ]

    def flops(self, dataset: str) -> np.ndarray:
        """FLOPs (millions) of every cell's network for ``dataset``."""
        return self.flops_M[
            :, self.cost_datasets.index(DATASET_COLUMNS[canonical_dataset(dataset)][0])
        ]

    def latency(self, device: str) -> np.ndarray:
        """Latency (ms) of every cell on ``device`` (KeyError with suggestions if unknown)."""
        if device not in self.devices:
            close = difflib.get_close_matches(str(device), self.devices, n=3, cutoff=0.4)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise KeyError(
                f"unknown NB201 latency device {device!r}.{hint} Devices: {self.devices}"
            )
        return self.latency_ms[:, self.devices.index(device)]


@lru_cache(maxsize=4)
def _load(path: Path) -> NB201Table:
    if not path.is_file():
        raise TableError(
            f"NB201 table not found at {path}; build it with "
            "`python -m nasgym.tables.build_nb201 --src ../shared/data/nb201`"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _REQUIRED if k not in data.files]
            if missing:
                raise TableError(f"{path} lacks arrays {missing}; rebuild the table")
            arrays = {k: data[k] for k in _REQUIRED}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, TableError):
            raise
        raise TableError(f"cannot read NB201 table {path}: {exc}; rebuild it") from exc
    return NB201Table(arrays, path)


def load_nb201(path: str | Path | None = None) -> NB201Table:
    """The NB201 table at ``path`` (default: the one shipped in the package), cached in-process."""
    return _load(Path(path).resolve() if path is not None else DEFAULT_PATH)


__all__ = ["DATASET_COLUMNS", "NB201Table", "TableError", "canonical_dataset", "load_nb201"]
