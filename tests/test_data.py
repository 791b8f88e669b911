"""Tests of nasgym.data: built-in sets, splits, data directories, IDX errors, custom sets."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from nasgym.data import (
    DATASETS,
    IDX_FILES,
    DataFormatError,
    RawData,
    Split,
    clear_cache,
    download_mnist,
    idx_loader,
    list_datasets,
    load_dataset,
    read_idx_images,
    read_idx_labels,
    read_idx_pair,
    register_dataset,
)

TR_X, TR_Y, TE_X, TE_Y = IDX_FILES


# ---------------------------------------------------------------- helpers and fixtures


def _idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    header = np.array([magic, *dims], dtype=">u4").tobytes()
    return header + payload


def _write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, compresslevel=1))
    return path


def _rows(images: np.ndarray) -> np.ndarray:
    """Images as sortable rows, to compare multisets of images."""
    flat = images.reshape(len(images), -1)
    return flat[np.lexsort(flat.T[::-1])]


def _decode_ids(split: Split) -> np.ndarray:
    """Item ids stored in pixels (0,0)/(0,1) of the ``ids`` test set."""
    px = np.rint(split.images[:, 0, :2] * 255).astype(np.int64)
    return px[:, 0] * 256 + px[:, 1]


def _id_images(ids: np.ndarray) -> np.ndarray:
    images = np.zeros((len(ids), 4, 4), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = ids // 256, ids % 256
    return images


@pytest.fixture
def registered():
    """Register data sets for one test; unregister them afterwards."""
    names: list[str] = []

    def _register(name, loader=None, **kw):
        names.append(name)
        return register_dataset(name, loader, **kw)

    yield _register
    for name in names:
        DATASETS.unregister(name)
        clear_cache(name)


@pytest.fixture
def ids_dataset(registered):
    """A 1000-item, 4-class set whose images encode their item id (no official test split)."""
    labels = np.arange(1000) % 4

    @registered("ids")
    def _load(data_dir):
        return RawData(_id_images(np.arange(1000)), labels, n_classes=4)

    return labels


@pytest.fixture(scope="module")
def mnist(shared_data):
    return load_dataset("mnist", data_dir=shared_data, seed=0)


@pytest.fixture(scope="module")
def t10k(shared_data):
    """The official MNIST test images and labels, read directly."""
    folder = shared_data / "mnist"
    return read_idx_pair(folder / TE_X, folder / TE_Y)


@pytest.fixture(scope="module")
def t10k_bytes(t10k):
    """Uncompressed IDX bytes of the first 500 MNIST t10k images and labels (real data, small)."""
    images, labels = t10k[0][:500], t10k[1][:500]
    return (
        _idx_bytes(2051, images.shape, images.tobytes()),
        _idx_bytes(2049, labels.shape, labels.tobytes()),
    )


# ---------------------------------------------------------------- digits


def test_digits_shapes_and_ranges():
    ds = load_dataset("digits")
    assert ds.name == "digits" and ds.image_shape == (8, 8) and ds.n_classes == 10
    assert (len(ds.train), len(ds.val), len(ds.test)) == (1168, 270, 359)
    for split in (ds.train, ds.val, ds.test):
        assert split.images.dtype == np.float32 and split.images.shape[1:] == (8, 8)
        assert split.labels.dtype == np.int64 and split.labels.shape == (len(split),)
        assert split.flat.dtype == np.float32 and split.flat.shape == (len(split), 64)
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0
        assert set(np.unique(split.labels)) == set(range(10))
    assert ds.train.images.max() == 1.0  # 16/16: scaled by 1/16, not 1/255


def test_digits_splits_partition_the_whole_set():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    ds = load_dataset("digits", seed=3)
    images = np.concatenate([ds.train.images, ds.val.images, ds.test.images])
    labels = np.concatenate([ds.train.labels, ds.val.labels, ds.test.labels])
    np.testing.assert_array_equal(_rows(images), _rows((bunch.images / 16).astype(np.float32)))
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(bunch.target))


def test_same_seed_same_arrays_other_seed_other_partition():
    a, b = load_dataset("digits", seed=7), load_dataset("digits", seed=7)
    for sa, sb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        np.testing.assert_array_equal(sa.images, sb.images)
        np.testing.assert_array_equal(sa.labels, sb.labels)
    c = load_dataset("digits", seed=8)
    assert not np.array_equal(_rows(a.train.images), _rows(c.train.images))
    assert not np.array_equal(_rows(a.val.images), _rows(c.val.images))


def test_splits_are_disjoint_stratified_and_cover_everything(ids_dataset):
    labels = ids_dataset
    ds = load_dataset("ids", seed=1, val_fraction=0.1, test_fraction=0.3)
    train, val, test = (set(_decode_ids(s)) for s in (ds.train, ds.val, ds.test))
    assert (len(train), len(val), len(test)) == (600, 100, 300)
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(range(1000))
    for split in (ds.train, ds.val, ds.test):
        np.testing.assert_array_equal(split.labels, labels[_decode_ids(split)])
        counts = np.bincount(split.labels, minlength=4)
        assert counts.max() - counts.min() <= 1  # 4 equal classes stay balanced


def test_max_train_subsamples_train_only(ids_dataset):
    full = load_dataset("ids", seed=2)
    small = load_dataset("ids", seed=2, max_train=101)
    assert len(small.train) == 101
    assert set(_decode_ids(small.train)) <= set(_decode_ids(full.train))
    np.testing.assert_array_equal(small.val.images, full.val.images)
    np.testing.assert_array_equal(small.test.images, full.test.images)
    assert np.bincount(small.train.labels).max() - np.bincount(small.train.labels).min() <= 1
    np.testing.assert_array_equal(
        small.train.images, load_dataset("ids", seed=2, max_train=101).train.images
    )
    assert len(load_dataset("ids", seed=2, max_train=10**6).train) == len(full.train)


def test_callers_cannot_corrupt_the_cache():
    first = load_dataset("digits", seed=0)
    before = first.train.images.copy()
    first.train.images[:] = -1.0
    first.train.labels[:] = 99
    again = load_dataset("digits", seed=0)
    np.testing.assert_array_equal(again.train.images, before)
    assert again.train.labels.max() == 9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
        ({"max_train": 0}, "max_train"),
        ({"max_train": 2.5}, "max_train"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("digits", **kwargs)


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(KeyError, match="(?i)did you mean 'mnist'"):
        load_dataset("mnsit")
    assert {"digits", "mnist", "fashion-mnist"} <= set(list_datasets())
    assert list_datasets()[0] == "digits"


# ---------------------------------------------------------------- custom data sets


def test_register_function_and_decorator(registered, tmp_path):
    seen = []

    def load_blobs(data_dir):
        seen.append(data_dir)
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, size=300)
        return RawData(rng.random((300, 5, 6)), labels)  # float in [0, 1], n_classes inferred

    registered("blobs", load_blobs)
    ds = load_dataset("blobs", data_dir=tmp_path, seed=1)
    assert ds.image_shape == (5, 6) and ds.n_classes == 3 and len(ds.test) == 60
    assert seen == [tmp_path.resolve()]
    load_dataset("blobs", data_dir=tmp_path, seed=2)
    assert len(seen) == 1  # cached per (name, directory)

    @registered("with-test")
    def _load(data_dir):
        x = np.full((40, 3, 3), 255, dtype=np.uint8)
        return RawData(x, np.arange(40) % 2, x[:10], np.arange(10) % 2, n_classes=5)

    ds = load_dataset("with-test", val_fraction=0.25)
    assert (len(ds.train), len(ds.val), len(ds.test), ds.n_classes) == (30, 10, 10, 5)
    assert ds.train.images.max() == 1.0  # uint8 scaled by 1/255


def test_register_twice_needs_overwrite_and_drops_the_cache(registered):
    registered("twice", lambda d: RawData(np.zeros((20, 2, 2)), np.arange(20) % 2))
    assert load_dataset("twice").train.images.max() == 0.0
    with pytest.raises(ValueError, match="already registered"):
        registered("twice", lambda d: RawData(np.ones((20, 2, 2)), np.arange(20) % 2))
    registered("twice", lambda d: RawData(np.ones((20, 2, 2)), np.arange(20) % 2), overwrite=True)
    assert load_dataset("twice").train.images.min() == 1.0


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (RawData(np.full((10, 2, 2), 2.0), np.arange(10) % 2), r"\[0, 1\]"),
        (RawData(np.zeros((10, 4)), np.arange(10) % 2), r"\(N, H, W\)"),
        (RawData(np.zeros((10, 2, 2), dtype=np.int32), np.arange(10) % 2), "uint8"),
        (RawData(np.zeros((10, 2, 2)), np.arange(9) % 2), "one per image"),
        (RawData(np.zeros((10, 2, 2)), np.arange(10) % 2, n_classes=1), "n_classes"),
        (RawData(np.zeros((10, 2, 2)), np.arange(10) % 2, np.zeros((4, 2, 2))), "both"),
    ],
)
def test_bad_loader_output_is_rejected(registered, raw, match):
    registered("bad", lambda d: raw)
    with pytest.raises(ValueError, match=match):
        load_dataset("bad")


# ---------------------------------------------------------------- real MNIST / Fashion-MNIST


def test_mnist_splits(mnist, t10k):
    assert mnist.image_shape == (28, 28) and mnist.n_classes == 10
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (51000, 9000, 10000)
    pool = np.concatenate([mnist.train.images, mnist.val.images])
    assert pool.mean() == pytest.approx(0.1307, abs=5e-4)
    assert pool.std() == pytest.approx(0.3081, abs=5e-4)
    np.testing.assert_array_equal(mnist.test.images, t10k[0] / np.float32(255))
    np.testing.assert_array_equal(mnist.test.labels, t10k[1])
    val_share = np.bincount(mnist.val.labels) / np.bincount(
        np.concatenate([mnist.train.labels, mnist.val.labels])
    )
    np.testing.assert_allclose(val_share, 0.15, atol=1e-3)  # stratified


def test_mnist_max_train_and_determinism(mnist, shared_data):
    small = load_dataset("mnist", data_dir=shared_data, seed=0, max_train=500)
    assert len(small.train) == 500 and len(small.test) == 10000
    np.testing.assert_array_equal(small.val.labels, mnist.val.labels)
    other = load_dataset("mnist", data_dir=shared_data, seed=1, max_train=500)
    assert not np.array_equal(other.val.images, small.val.images)


def test_fashion_mnist(shared_data):
    ds = load_dataset("fashion-mnist", data_dir=shared_data, max_train=1000)
    assert ds.image_shape == (28, 28) and (len(ds.val), len(ds.test)) == (9000, 10000)
    assert ds.test.images.mean() == pytest.approx(0.2868, abs=1e-3)
    assert np.bincount(ds.test.labels).tolist() == [1000] * 10


def _link_files(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        os.symlink(src / name, dst / name)
    return dst


@pytest.mark.parametrize("layout", ["MNIST/raw", "."])
def test_mnist_directory_layouts(mnist, shared_data, tmp_path, layout):
    _link_files(shared_data / "mnist", tmp_path / layout)
    ds = load_dataset("mnist", data_dir=tmp_path, seed=0)
    np.testing.assert_array_equal(ds.val.labels, mnist.val.labels)
    np.testing.assert_array_equal(ds.train.images[:50], mnist.train.images[:50])
    clear_cache("mnist")  # keep the cache small: the module fixture already holds one copy


def test_data_dir_environment_variable(mnist, shared_data, monkeypatch):
    monkeypatch.setenv("NASGYM_DATA_DIR", str(shared_data))
    ds = load_dataset("mnist", seed=0, max_train=10)
    assert ds.data_dir == shared_data.resolve()
    np.testing.assert_array_equal(ds.val.labels, mnist.val.labels)


def test_missing_data_directory_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("NASGYM_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"data_dir=.*NASGYM_DATA_DIR"):
        load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        load_dataset("mnist", data_dir=tmp_path / "nowhere")
    assert str(err.value).endswith("holding mnist/, MNIST/raw/ or the IDX files themselves")
    with pytest.raises(FileNotFoundError, match=r"MNIST[/\\]raw"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    (tmp_path / "fashion-mnist").mkdir()
    (tmp_path / "fashion-mnist" / TE_Y).write_bytes(b"")
    with pytest.raises(DataFormatError, match=f"missing {TR_X}"):
        load_dataset("fashion-mnist", data_dir=tmp_path)


# ---------------------------------------------------------------- corrupt IDX files


def test_idx_reader_round_trip(tmp_path):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_gz(tmp_path / "x.gz", _idx_bytes(2051, (2, 3, 4), pixels.tobytes()))
    (tmp_path / "y").write_bytes(_idx_bytes(2049, (2,), bytes([3, 7])))
    images, labels = read_idx_pair(tmp_path / "x.gz", tmp_path / "y")
    np.testing.assert_array_equal(images, pixels)
    assert labels.tolist() == [3, 7] and not images.flags.writeable


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda raw, gz: gz[: len(gz) // 2], "truncated gzip"),
        (lambda raw, gz: gz[:-8] + b"\0\0\0\0" + gz[-4:], "corrupt gzip.*CRC"),
        (lambda raw, gz: b"IDX but not gzip" + raw[:100], "expected a gzip file"),
        (lambda raw, gz: b"", "expected a gzip file"),
        (lambda raw, gz: gzip.compress(_idx_bytes(2049, (500,), raw[16:])), "magic number 2051"),
        (lambda raw, gz: gzip.compress(raw[:-784]), r"500 x 28 x 28 .*shorter"),
        (lambda raw, gz: gzip.compress(raw + b"\0"), "longer"),
        (lambda raw, gz: gzip.compress(raw[:10]), "header of 16 bytes"),
    ],
    ids=[
        "truncated-gzip",
        "bad-crc",
        "not-gzip",
        "empty",
        "wrong-magic",
        "short",
        "long",
        "header",
    ],
)
def test_corrupt_images_file_names_the_file(tmp_path, t10k_bytes, corrupt, match):
    raw = t10k_bytes[0]
    path = tmp_path / TE_X
    path.write_bytes(corrupt(raw, gzip.compress(raw, compresslevel=1)))
    with pytest.raises(DataFormatError, match=match) as info:
        read_idx_images(path)
    assert str(path) in str(info.value)


def test_corrupt_labels_file_names_the_file(tmp_path, t10k_bytes):
    images_raw, labels_raw = t10k_bytes
    path = tmp_path / TE_Y
    bad = bytearray(labels_raw)
    bad[8 + 42] = 10
    _write_gz(path, bytes(bad))
    with pytest.raises(DataFormatError, match=r"0\.\.9, found 10 at item 42") as info:
        read_idx_labels(path)
    assert str(path) in str(info.value)
    _write_gz(path, images_raw)  # an images file where labels belong
    with pytest.raises(DataFormatError, match="magic number 2049, found 2051"):
        read_idx_labels(path)
    with pytest.raises(DataFormatError, match="file not found"):
        read_idx_labels(tmp_path / "absent.gz")


def test_count_mismatch_between_images_and_labels(tmp_path, t10k_bytes):
    images_raw, labels_raw = t10k_bytes
    _write_gz(tmp_path / TE_X, images_raw)
    _write_gz(tmp_path / TE_Y, _idx_bytes(2049, (499,), labels_raw[8:-1]))
    with pytest.raises(DataFormatError, match="expected 500 labels.*found 499") as info:
        read_idx_pair(tmp_path / TE_X, tmp_path / TE_Y)
    assert str(tmp_path / TE_Y) in str(info.value)
    with pytest.raises(DataFormatError, match="expected 60000 images, found 500"):
        read_idx_images(tmp_path / TE_X, expected_count=60000)


def test_corrupt_file_in_data_directory(shared_data, tmp_path, t10k_bytes):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in (TR_X, TR_Y, TE_X):
        os.symlink(shared_data / "mnist" / name, folder / name)
    (folder / TE_Y).write_bytes(gzip.compress(t10k_bytes[1])[:-20])
    with pytest.raises(DataFormatError, match="truncated gzip") as info:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(folder / TE_Y) in str(info.value)
    # train and test files swapped: the item counts give it away
    shutil.rmtree(folder)
    _link_files(shared_data / "mnist", tmp_path / "src")
    folder.mkdir()
    for a, b in ((TR_X, TE_X), (TR_Y, TE_Y), (TE_X, TR_X), (TE_Y, TR_Y)):
        os.symlink(tmp_path / "src" / a, folder / b)
    with pytest.raises(DataFormatError, match="expected 60000 images, found 10000"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_loader_reads_uncompressed_files(registered, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    ids = np.arange(30)
    for images, labels, x_name, y_name in (
        (ids, ids % 3, TR_X, TR_Y),
        (ids[:6], ids[:6] % 3, TE_X, TE_Y),
    ):
        (folder / x_name.removesuffix(".gz")).write_bytes(
            _idx_bytes(2051, (len(images), 4, 4), _id_images(images).tobytes())
        )
        (folder / y_name.removesuffix(".gz")).write_bytes(
            _idx_bytes(2049, (len(labels),), labels.astype(np.uint8).tobytes())
        )
    registered("tiny", idx_loader("tiny", n_classes=3))
    ds = load_dataset("tiny", data_dir=tmp_path, val_fraction=0.2)
    assert (len(ds.train), len(ds.val), len(ds.test), ds.n_classes) == (24, 6, 6, 3)
    np.testing.assert_array_equal(np.sort(_decode_ids(ds.test)), np.arange(6))


# ---------------------------------------------------------------- optional torchvision


def test_download_mnist_without_torchvision(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match=r"pip install nasgym\[vision\]"):
        download_mnist(tmp_path, "mnist")
    with pytest.raises(ValueError, match="fashion-mnist"):
        download_mnist(tmp_path, "cifar10")
