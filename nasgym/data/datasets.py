"""Data set registry, raw-array cache and the deterministic train/val/test splitter.

See :mod:`nasgym.data` for the user-facing guide (built-in sets, data directory, custom sets).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.data.splits import stratified_take
from nasgym.registry import Registry

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "Loader",
    "RawData",
    "Split",
    "clear_cache",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "resolve_data_dir",
]

#: environment variable naming the data directory when ``data_dir`` is not passed
DATA_DIR_ENV = "NASGYM_DATA_DIR"


@dataclass(frozen=True, eq=False)
class RawData:
    """What a data set loader returns: the arrays as stored on disk.

    ``*_images``: ``(N, H, W)``, either uint8 (0..255, scaled by 1/255) or float in [0, 1].
    ``*_labels``: ``(N,)`` integers in ``0 .. n_classes-1``. ``test_images``/``test_labels`` are
    None when the set has no official test split (one is then carved out with ``test_fraction``).
    ``n_classes`` defaults to the largest label + 1.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    n_classes: int | None = None


#: a data set loader: ``loader(data_dir) -> RawData``
Loader = Callable[[Path | None], RawData]

DATASETS: Registry[Loader] = Registry("data set")


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a data set: ``images`` float32 ``(N, H, W)`` in [0, 1], ``labels`` int64 ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.float32:
            raise ValueError(
                f"Split.images must be float32 (N, H, W), got {self.images.dtype} {self.images.shape}"
            )
        if self.labels.shape != (len(self.images),) or self.labels.dtype != np.int64:
            raise ValueError(
                f"Split.labels must be int64 ({len(self.images)},), "
                f"got {self.labels.dtype} {self.labels.shape}"
            )

    @property
    def flat(self) -> np.ndarray:
        """The images as float32 ``(N, H*W)`` (a view, no copy)."""
        return self.images.reshape(len(self.images), -1)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, image_shape={self.images.shape[1:]})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded data set: its ``train``, ``val`` and ``test`` :class:`Split` and its shape."""

    name: str
    image_shape: tuple[int, int]
    n_classes: int
    train: Split
    val: Split
    test: Split
    seed: int = 0
    data_dir: Path | None = field(default=None)

    @property
    def n_features(self) -> int:
        """Length of one flattened image, ``H * W``."""
        return int(np.prod(self.image_shape))

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, image_shape={self.image_shape}, n_classes={self.n_classes}, "
            f"train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, seed={self.seed})"
        )


def register_dataset(name: str, loader: Loader | None = None, *, overwrite: bool = False) -> Any:
    """Register ``loader(data_dir) -> RawData`` under ``name``; without ``loader``, a decorator."""

    def _add(fn: Loader) -> Loader:
        if not callable(fn):
            raise TypeError(f"data set {name!r}: loader must be callable, got {fn!r}")
        DATASETS.register(name, fn, overwrite=overwrite)
        clear_cache(name)
        return fn

    return _add if loader is None else _add(loader)


def list_datasets() -> list[str]:
    """Names of every registered data set, in registration order."""
    return DATASETS.names()


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """``data_dir``, else ``$NASGYM_DATA_DIR``, as an absolute path; None when neither is set."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or None
    if data_dir is None:
        return None
    return Path(data_dir).expanduser().resolve()


# (name, loader, resolved data dir) -> validated, read-only RawData
_CACHE: dict[tuple[str, Any, str], RawData] = {}


def clear_cache(name: str | None = None) -> None:
    """Forget the cached raw arrays of data set ``name`` (of every data set when None)."""
    for key in [k for k in _CACHE if name is None or k[0] == name]:
        del _CACHE[key]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.copy()  # the loader may keep a reference: the cache must own its arrays
        a.flags.writeable = False
    return a


def _check_images(name: str, part: str, images: Any) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(
            f"data set {name!r}: {part} images must be (N, H, W), got shape {images.shape}"
        )
    if images.dtype == np.uint8:
        return _frozen(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"data set {name!r}: {part} images must be uint8 (0..255) or float in [0, 1], "
            f"got dtype {images.dtype}; scale them in the loader"
        )
    images = images.astype(np.float32, copy=False)
    if images.size and not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise ValueError(
            f"data set {name!r}: float {part} images must lie in [0, 1], "
            f"found range [{images.min()}, {images.max()}]; scale them in the loader"
        )
    return _frozen(images)


def _check_labels(name: str, part: str, labels: Any, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"data set {name!r}: {part} labels must be integers of shape ({n},) (one per image), "
            f"got {labels.dtype} {labels.shape}"
        )
    if n and labels.min() < 0:
        raise ValueError(f"data set {name!r}: {part} labels must be >= 0, found {labels.min()}")
    return _frozen(labels.astype(np.int64, copy=False))


def _validate(name: str, raw: Any) -> RawData:
    """Check a loader's output and return a read-only, normalised copy."""
    if isinstance(raw, tuple | list) and len(raw) in (4, 5):
        raw = RawData(*raw)
    if not isinstance(raw, RawData):
        raise TypeError(
            f"data set {name!r}: loader must return nasgym.data.RawData, got {type(raw).__name__}"
        )
    if (raw.test_images is None) != (raw.test_labels is None):
        raise ValueError(f"data set {name!r}: give both test_images and test_labels, or neither")
    xs = _check_images(name, "train", raw.train_images)
    ys = _check_labels(name, "train", raw.train_labels, len(xs))
    xt = yt = None
    if raw.test_images is not None:
        xt = _check_images(name, "test", raw.test_images)
        yt = _check_labels(name, "test", raw.test_labels, len(xt))
        if xt.shape[1:] != xs.shape[1:]:
            raise ValueError(
                f"data set {name!r}: test images are {xt.shape[1:]}, train images {xs.shape[1:]}"
            )
    top = max((int(y.max()) for y in (ys, yt) if y is not None and len(y)), default=-1)
    n_classes = top + 1 if raw.n_classes is None else int(raw.n_classes)
    if n_classes < 2 or top >= n_classes:
        raise ValueError(
            f"data set {name!r}: n_classes={n_classes} must be >= 2 and above every label "
            f"(largest label found: {top})"
        )
    return RawData(xs, ys, xt, yt, n_classes)


def _load_raw(name: str, data_dir: Path | None) -> RawData:
    loader = DATASETS.get(name)
    key = (name, loader, str(data_dir))
    if key not in _CACHE:
        _CACHE[key] = _validate(name, loader(data_dir))
    return _CACHE[key]


def _check_args(
    val_fraction: float, test_fraction: float, max_train: int | None, seed: int
) -> None:
    for arg, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not (isinstance(value, int | float) and 0.0 <= value < 1.0):
            raise ValueError(f"{arg} must be a number in [0, 1), got {value!r}")
    if max_train is not None and (
        isinstance(max_train, bool) or not isinstance(max_train, int | np.integer) or max_train < 1
    ):
        raise ValueError(f"max_train must be a positive int or None, got {max_train!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _to_split(images: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> Split:
    """A fresh float32 copy of ``images[idx]`` (uint8 scaled by 1/255) and its int64 labels."""
    x = images[idx].astype(np.float32)
    if images.dtype == np.uint8:
        np.divide(x, np.float32(255), out=x)
    return Split(x, labels[idx].astype(np.int64))


def load_dataset(
    name: str = "digits",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    max_train: int | None = None,
) -> Dataset:
    """Load data set ``name`` and split it deterministically from ``seed``.

    Sets with an official test split (MNIST-like) use it as ``test`` and carve ``val``
    (``val_fraction`` of the official train set) out of the official train set; ``test_fraction``
    is then ignored. Sets without one (``digits``) are carved into test, val and train with
    ``test_fraction`` and ``val_fraction`` of all items. Carving is stratified by class.
    ``max_train`` keeps a stratified subset of that many training items (val/test unchanged).
    ``data_dir`` defaults to ``$NASGYM_DATA_DIR``. The training split comes shuffled, val and test
    in file order. Each call returns fresh arrays the caller owns; the raw arrays are cached
    (read-only) per data set and directory, so repeated calls skip the disk.
    """
    _check_args(val_fraction, test_fraction, max_train, seed)
    resolved = resolve_data_dir(data_dir)
    raw = _load_raw(name, resolved)
    rng = np.random.default_rng(seed)
    pool = np.arange(len(raw.train_labels))
    if raw.test_images is None:
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must be below 1 so that training data remains, "
                f"got {val_fraction} + {test_fraction}"
            )
        n_test = round(test_fraction * len(pool))
        test_idx, pool = stratified_take(pool, raw.train_labels, n_test, rng)
        n_val = round(val_fraction * len(raw.train_labels))
    else:
        n_val = round(val_fraction * len(pool))
    val_idx, train_idx = stratified_take(pool, raw.train_labels, n_val, rng)
    if len(train_idx) == 0:
        raise ValueError(f"data set {name!r}: no training items left; lower the fractions")
    if max_train is not None and max_train < len(train_idx):
        train_idx, _ = stratified_take(train_idx, raw.train_labels, int(max_train), rng)
    train_idx = rng.permutation(train_idx)
    if raw.test_images is None:
        test = _to_split(raw.train_images, raw.train_labels, test_idx)
    else:
        test = _to_split(raw.test_images, raw.test_labels, np.arange(len(raw.test_labels)))
    return Dataset(
        name=name,
        image_shape=tuple(int(d) for d in raw.train_images.shape[1:]),
        n_classes=int(raw.n_classes),
        train=_to_split(raw.train_images, raw.train_labels, train_idx),
        val=_to_split(raw.train_images, raw.train_labels, val_idx),
        test=test,
        seed=int(seed),
        data_dir=resolved,
    )
