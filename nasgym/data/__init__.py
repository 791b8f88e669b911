"""Image classification data sets for nasgym, loaded by name and split deterministically.

Loading
-------
>>> from nasgym.data import load_dataset
>>> ds = load_dataset("digits", seed=0)      # the default; offline everywhere
>>> ds.image_shape, ds.n_classes
((8, 8), 10)
>>> len(ds.train), len(ds.val), len(ds.test)
(1168, 270, 359)
>>> x, y = ds.train.flat, ds.train.labels    # float32 (N, 64) in [0, 1], int64 (N,)

``load_dataset(name, data_dir=None, *, seed=0, val_fraction=0.15, test_fraction=0.2,
max_train=None)`` returns a :class:`Dataset` with ``train``, ``val`` and ``test``
:class:`Split` objects (``images`` float32 ``(N, H, W)`` in [0, 1], ``labels`` int64 ``(N,)``,
``flat`` float32 ``(N, H*W)``, ``len(split)``).

- Splits depend only on the seed: the same seed gives identical arrays, another seed another
  train/val partition. Carving is stratified by class.
- Sets without an official test split (``digits``) are carved into test (``test_fraction`` of
  all items), val (``val_fraction`` of all items) and train (the rest).
- MNIST-like sets keep the official ``t10k`` files as ``test``; ``val`` is ``val_fraction`` of
  the official training set and ``test_fraction`` is ignored.
- ``max_train`` keeps a stratified, seed-determined subset of that many training items
  (val and test do not change), for CPU-sized runs on MNIST.
- Each call returns fresh arrays the caller owns; the raw arrays are cached read-only per
  (data set, directory) in the process, so repeated calls are fast. :func:`clear_cache`
  frees them.

Built-in data sets
------------------
``digits``
    scikit-learn's bundled 8x8 handwritten digits (1797 images, pixel values 0..16 scaled to
    [0, 1]); needs no files.
``mnist``, ``fashion-mnist``
    28x28, 60000 train / 10000 test, from the four IDX files ``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``
    (uncompressed copies without ``.gz`` are accepted too).

The data directory is the ``data_dir`` argument, else the ``NASGYM_DATA_DIR`` environment
variable. Within it the files may lie in ``<dir>/mnist/`` (``<dir>/fashion-mnist/``), in
torchvision's ``<dir>/MNIST/raw/`` (``<dir>/FashionMNIST/raw/``), or in ``<dir>`` itself; the
first folder holding all four files wins. Without a directory, or when no folder holds the
files, a ``FileNotFoundError`` says where it looked. Malformed files (not gzip, truncated, wrong
magic number, wrong counts, labels out of 0-9, ...) raise :class:`DataFormatError`, a
``ValueError`` naming the file and what was expected versus found (see :mod:`nasgym.data.idx`).
With the optional extra ``nasgym[vision]``, ``download_mnist(root, "mnist")`` fetches the files
into the torchvision layout.

Your own data set
-----------------
Register a loader ``loader(data_dir: Path | None) -> RawData``; ``data_dir`` is the resolved
data directory (None when none is set). Images are ``(N, H, W)`` uint8 (scaled by 1/255) or
float in [0, 1]; leave ``test_images``/``test_labels`` as None to have a test split carved out::

    import numpy as np
    from nasgym.data import RawData, load_dataset, register_dataset

    def load_blobs(data_dir):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, size=600)
        images = rng.random((600, 6, 6)) * 0.2
        images[np.arange(600), labels, labels] = 1.0  # one bright pixel per class
        return RawData(images, labels, n_classes=3)

    register_dataset("blobs", load_blobs)
    ds = load_dataset("blobs", seed=1)

or as a decorator, ``@register_dataset("blobs")`` above the function. Another MNIST-like set
in IDX files needs only :func:`idx_loader`::

    register_dataset("kmnist", idx_loader("kmnist", "KMNIST/raw"))

Registered data sets are listed by :func:`list_datasets`; an unknown name raises ``KeyError``
with a "did you mean" suggestion.
"""

from __future__ import annotations

from nasgym.data.builtin import IDX_FILES, find_idx_files, idx_loader
from nasgym.data.datasets import (
    DATA_DIR_ENV,
    DATASETS,
    Dataset,
    Loader,
    RawData,
    Split,
    clear_cache,
    list_datasets,
    load_dataset,
    register_dataset,
    resolve_data_dir,
)
from nasgym.data.download import download_mnist
from nasgym.data.idx import DataFormatError, read_idx_images, read_idx_labels, read_idx_pair

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "IDX_FILES",
    "DataFormatError",
    "Dataset",
    "Loader",
    "RawData",
    "Split",
    "clear_cache",
    "download_mnist",
    "find_idx_files",
    "idx_loader",
    "list_datasets",
    "load_dataset",
    "read_idx_images",
    "read_idx_labels",
    "read_idx_pair",
    "register_dataset",
    "resolve_data_dir",
]
