"""Build ``nasgym/tables/nb201.npz`` from the NAS-Bench-201 CSV exports.

    python -m nasgym.tables.build_nb201 --src ../shared/data/nb201 [--out nasgym/tables/nb201.npz]

Reads ``nb201_merged_accuracy.csv``, ``nb201_params_flops_computed.csv`` and
``nb201_help_latency_ms_25devices.csv`` (one row per cell, official index order), checks that
the three agree on every cell's index and arch string, and writes a compressed ``.npz`` with:

- ``ops`` (15625 x 6, uint8): op indices of each cell in ``nasgym.spaces.nb201.NB201_OPS`` order;
- ``code_to_index`` (15625, int16): official index of the cell whose base-5 op code is the position;
- ``acc`` (15625 x 12, float32) with column names ``acc_columns`` (percent);
- ``train_time_12`` (float32): 12-epoch training time, 12/200 of ``c10valid_train_time_200ep_s``;
- ``params_M``, ``flops_M`` (15625 x 3, float32) with ``cost_datasets`` (c10, c100, in16);
- ``latency_ms`` (15625 x 27, float32) with ``devices``: every latency column of the source
  (its "25 devices" include GPUs at batch sizes 1, 32 and 256, one column each).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201_OPS, NB201Space

N_CELLS = 5**6
ACC_COLUMNS: tuple[str, ...] = (
    "c10valid_train_200",
    "c10valid_valid_200",
    "c10valid_test_200",
    "c10_test_200",
    "c100_test_200",
    "in16_test_200",
    "c10valid_valid_12",
    "c10_test_12",
    "c100_valid_12",
    "c100_test_12",
    "in16_valid_12",
    "in16_test_12",
)
COST_DATASETS: tuple[str, ...] = ("c10", "c100", "in16")
DEFAULT_OUT = Path(__file__).resolve().parent / "nb201.npz"


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise FileNotFoundError(f"NB201 source file not found: {path}")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    if len(body) != N_CELLS:
        raise ValueError(f"{path} has {len(body)} rows; expected {N_CELLS} (one per NB201 cell)")
    for i, row in enumerate(body):
        if int(row[0]) != i:
            raise ValueError(f"{path}: row {i} has arch_index {row[0]}; expected official order")
    return header, body


def _columns(
    header: list[str], body: list[list[str]], names: tuple[str, ...], path: Path
) -> np.ndarray:
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    cols = [header.index(n) for n in names]
    return np.array([[float(row[c]) for c in cols] for row in body], dtype=np.float64)


def build(src: Path) -> dict[str, np.ndarray]:
    """Read the CSVs in ``src`` and return the arrays written to the ``.npz``."""
    acc_path = src / "nb201_merged_accuracy.csv"
    cost_path = src / "nb201_params_flops_computed.csv"
    lat_path = src / "nb201_help_latency_ms_25devices.csv"
    acc_h, acc_b = _read(acc_path)
    cost_h, cost_b = _read(cost_path)
    lat_h, lat_b = _read(lat_path)
    for path, body in ((cost_path, cost_b), (lat_path, lat_b)):
        for a, b in zip(acc_b, body, strict=True):
            if a[1] != b[1]:
                raise ValueError(
                    f"{path}: cell {a[0]} is {b[1]!r} but {acc_path.name} says {a[1]!r}"
                )
    space = NB201Space()
    ops = np.array([space.to_indices(space.from_str(row[1])) for row in acc_b], dtype=np.uint8)
    codes = ops.astype(np.int64) @ (5 ** np.arange(5, -1, -1))
    if len(np.unique(codes)) != N_CELLS:
        raise ValueError("NB201 arch strings are not all distinct")
    code_to_index = np.empty(N_CELLS, dtype=np.int16)
    code_to_index[codes] = np.arange(N_CELLS)
    devices = tuple(lat_h[2:])
    time200 = _columns(acc_h, acc_b, ("c10valid_train_time_200ep_s",), acc_path)[:, 0]
    return {
        "ops": ops,
        "op_names": np.array(NB201_OPS),
        "code_to_index": code_to_index,
        "acc": _columns(acc_h, acc_b, ACC_COLUMNS, acc_path).astype(np.float32),
        "acc_columns": np.array(ACC_COLUMNS),
        "train_time_12": (time200 * 12.0 / 200.0).astype(np.float32),
        "params_M": _columns(
            cost_h, cost_b, tuple(f"params_M_{d}" for d in COST_DATASETS), cost_path
        ).astype(np.float32),
        "flops_M": _columns(
            cost_h, cost_b, tuple(f"flops_M_{d}" for d in COST_DATASETS), cost_path
        ).astype(np.float32),
        "cost_datasets": np.array(COST_DATASETS),
        "latency_ms": _columns(lat_h, lat_b, devices, lat_path).astype(np.float32),
        "devices": np.array(devices),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="folder with the NB201 CSVs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz path")
    args = parser.parse_args(argv)
    arrays = build(args.src)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
