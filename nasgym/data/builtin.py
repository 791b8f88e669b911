"""The built-in data sets (``digits``, ``mnist``, ``fashion-mnist``) and the IDX directory loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasgym.data.datasets import DATA_DIR_ENV, Loader, RawData, register_dataset
from nasgym.data.download import DOWNLOADABLE
from nasgym.data.idx import DataFormatError, read_idx_pair

__all__ = ["IDX_FILES", "find_idx_files", "idx_loader"]

#: the four files of an MNIST-like set (each may also be stored uncompressed, without ``.gz``)
IDX_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _present(folder: Path, filename: str) -> Path | None:
    """``folder/filename`` or its uncompressed twin, whichever exists (gzip preferred)."""
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_idx_files(data_dir: Path | None, subdirs: tuple[str, ...], label: str) -> list[Path]:
    """Paths of the four IDX files of ``label`` under ``data_dir``, in :data:`IDX_FILES` order.

    Looks in ``data_dir/<subdir>`` for each of ``subdirs`` in turn, then in ``data_dir`` itself;
    the first folder holding all four files wins. Raises ``FileNotFoundError`` when no folder
    holds any of them, :class:`DataFormatError` when a folder holds only some.
    """
    layouts = ", ".join(f"<dir>/{s}/" for s in subdirs) + " or <dir>/ itself"
    if data_dir is None:
        raise FileNotFoundError(
            f"data set {label!r} is read from IDX files ({', '.join(IDX_FILES)}) in a data "
            f"directory: pass data_dir= to load_dataset or set the {DATA_DIR_ENV} environment "
            f"variable (layouts: {layouts})"
        )
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} does not exist (from data_dir= or {DATA_DIR_ENV}); "
            f"point it at the folder holding {', '.join(f'{s}/' for s in subdirs)} or the IDX "
            "files themselves"
        )
    folders = [data_dir / s for s in subdirs] + [data_dir]
    partial: tuple[Path, list[str]] | None = None
    for folder in folders:
        found = [_present(folder, f) for f in IDX_FILES]
        if all(p is not None for p in found):
            return found  # type: ignore[return-value]
        if partial is None and any(p is not None for p in found):
            partial = (folder, [f for f, p in zip(IDX_FILES, found, strict=True) if p is None])
    if partial is not None:
        folder, missing = partial
        raise DataFormatError(
            f"{folder}: expected all four {label} IDX files, missing {', '.join(missing)}"
        )
    hint = (
        f"; nasgym.data.download_mnist(root, {label!r}) fetches them (needs nasgym[vision])"
        if label in DOWNLOADABLE
        else ""
    )
    raise FileNotFoundError(
        f"no {label} IDX files under {data_dir}: looked in "
        f"{', '.join(str(f) for f in folders)} for {', '.join(IDX_FILES)}{hint}"
    )


def idx_loader(
    *subdirs: str,
    n_classes: int = 10,
    counts: tuple[int, int] | None = None,
    image_shape: tuple[int, int] | None = None,
) -> Loader:
    """A loader reading an MNIST-like set's four IDX files from ``<dir>/<subdir>`` (or ``<dir>``).

    ``counts`` = (train, test) item counts and ``image_shape`` = (rows, cols) are checked when
    given. Example: ``register_dataset("kmnist", idx_loader("kmnist", "KMNIST/raw"))``.
    """
    if not subdirs:
        raise ValueError("idx_loader needs at least one sub-directory name, e.g. 'mnist'")
    label = subdirs[0]

    def load(data_dir: Path | None) -> RawData:
        tr_x, tr_y, te_x, te_y = find_idx_files(data_dir, subdirs, label)
        n_train, n_test = counts if counts is not None else (None, None)
        train = read_idx_pair(
            tr_x, tr_y, n_classes=n_classes, expected_count=n_train, expected_shape=image_shape
        )
        test = read_idx_pair(
            te_x, te_y, n_classes=n_classes, expected_count=n_test, expected_shape=image_shape
        )
        if train[0].shape[1:] != test[0].shape[1:]:
            raise DataFormatError(
                f"{te_x}: expected images of {train[0].shape[1:]} like {tr_x}, "
                f"found {test[0].shape[1:]}"
            )
        return RawData(*train, *test, n_classes=n_classes)

    load.__doc__ = f"MNIST-like IDX files from <dir>/{label}/ ({', '.join(subdirs)} or <dir>)."
    return load


@register_dataset("digits")
def _load_digits(data_dir: Path | None) -> RawData:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 images, 10 classes, works offline."""
    from sklearn.datasets import load_digits  # lazy: sklearn is slow to import

    bunch = load_digits()
    images = (np.asarray(bunch.images, dtype=np.float64) / 16.0).astype(np.float32)
    return RawData(images, np.asarray(bunch.target, dtype=np.int64), n_classes=10)


_mnist = idx_loader("mnist", "MNIST/raw", counts=(60000, 10000), image_shape=(28, 28))
_mnist.__doc__ = "MNIST handwritten digits, 28x28, 60000 train / 10000 test (IDX files)."
register_dataset("mnist", _mnist)

_fashion = idx_loader(
    "fashion-mnist", "FashionMNIST/raw", counts=(60000, 10000), image_shape=(28, 28)
)
_fashion.__doc__ = "Fashion-MNIST (Zalando) clothing images, 28x28, 60000 train / 10000 test."
register_dataset("fashion-mnist", _fashion)
