"""Read IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or not.

The IDX header is big-endian: a 4-byte magic number (``0x00 0x00 <dtype> <ndim>``), then one
4-byte size per dimension, then the payload. nasgym reads the two kinds MNIST-like sets use:

- images, magic 2051 (``0x00000803``: uint8, 3 dims): count, rows, cols, then ``count*rows*cols``
  uint8 pixels;
- labels, magic 2049 (``0x00000801``: uint8, 1 dim): count, then ``count`` uint8 labels.

Every problem with a file (missing, not gzip, truncated gzip, wrong magic number, payload shorter
or longer than the header says, wrong item count, labels out of range, label count different from
image count) raises :class:`DataFormatError`, whose message names the file and what was expected
versus found. A file whose name ends in ``.gz`` must be gzip; other files are read as raw IDX.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "DataFormatError",
    "read_idx_images",
    "read_idx_labels",
    "read_idx_pair",
]

#: magic number of an IDX file of uint8 images (N, rows, cols)
IMAGES_MAGIC = 2051
#: magic number of an IDX file of uint8 labels (N,)
LABELS_MAGIC = 2049

_GZIP_MAGIC = b"\x1f\x8b"


class DataFormatError(ValueError):
    """A data file is missing, truncated or malformed; the message names the file."""


def _read_bytes(path: Path) -> bytes:
    """The decompressed content of ``path`` (gunzipped when its name ends in ``.gz``)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataFormatError(f"{path}: expected a file, found a directory") from None
    if path.suffix != ".gz":
        return raw
    if raw[:2] != _GZIP_MAGIC:
        raise DataFormatError(
            f"{path}: expected a gzip file (starting with bytes 1f 8b), "
            f"found {raw[:2].hex(' ') or 'an empty file'}"
        )
    try:
        return gzip.decompress(raw)
    except EOFError as err:
        raise DataFormatError(f"{path}: truncated gzip file ({err})") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as err:
        raise DataFormatError(f"{path}: corrupt gzip file ({err})") from None


def _parse(path: Path, data: bytes, magic: int, what: str) -> tuple[tuple[int, ...], np.ndarray]:
    """Check the header of an IDX ``data`` blob; return its dims and its uint8 payload."""
    ndim = magic & 0xFF
    header_len = 4 * (1 + ndim)
    if len(data) < header_len:
        raise DataFormatError(
            f"{path}: expected an IDX {what} header of {header_len} bytes, "
            f"found only {len(data)} bytes"
        )
    header = np.frombuffer(data, dtype=">u4", count=1 + ndim)
    found_magic = int(header[0])
    if found_magic != magic:
        raise DataFormatError(
            f"{path}: expected IDX {what} magic number {magic}, found {found_magic}"
            + (" (this looks like the other kind of IDX file)" if found_magic in _KINDS else "")
        )
    dims = tuple(int(d) for d in header[1:])
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(data) - header_len
    if found != expected:
        shape = " x ".join(str(d) for d in dims)
        kind = "shorter" if found < expected else "longer"
        raise DataFormatError(
            f"{path}: header says {shape} {what} = {expected} payload bytes, "
            f"found {found} bytes (payload {kind} than the header says; truncated or corrupt file)"
        )
    return dims, np.frombuffer(data, dtype=np.uint8, offset=header_len)


_KINDS = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}


def _check_count(path: Path, count: int, expected_count: int | None, what: str) -> None:
    if expected_count is not None and count != expected_count:
        raise DataFormatError(f"{path}: expected {expected_count} {what}, found {count}")


def read_idx_images(
    path: str | os.PathLike[str],
    *,
    expected_count: int | None = None,
    expected_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read an IDX images file into a read-only uint8 array of shape ``(N, rows, cols)``.

    ``expected_count`` / ``expected_shape`` (rows, cols), when given, are checked too.
    """
    path = Path(path)
    dims, payload = _parse(path, _read_bytes(path), IMAGES_MAGIC, "images")
    count, rows, cols = dims
    _check_count(path, count, expected_count, "images")
    if expected_shape is not None and (rows, cols) != tuple(expected_shape):
        raise DataFormatError(
            f"{path}: expected images of {expected_shape[0]}x{expected_shape[1]} pixels, "
            f"found {rows}x{cols}"
        )
    images = payload.reshape(count, rows, cols)
    images.flags.writeable = False
    return images


def read_idx_labels(
    path: str | os.PathLike[str],
    *,
    n_classes: int | None = 10,
    expected_count: int | None = None,
) -> np.ndarray:
    """Read an IDX labels file into a read-only uint8 array of shape ``(N,)``.

    Every label must lie in ``0 .. n_classes-1`` (no check when ``n_classes`` is None).
    """
    path = Path(path)
    (count,), labels = _parse(path, _read_bytes(path), LABELS_MAGIC, "labels")
    _check_count(path, count, expected_count, "labels")
    if n_classes is not None and count:
        bad = np.flatnonzero(labels >= n_classes)
        if bad.size:
            raise DataFormatError(
                f"{path}: expected labels in 0..{n_classes - 1}, found {int(labels[bad[0]])} "
                f"at item {int(bad[0])} ({bad.size} labels out of range)"
            )
    labels.flags.writeable = False
    return labels


def read_idx_pair(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    *,
    n_classes: int | None = 10,
    expected_count: int | None = None,
    expected_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read matching images and labels files; their item counts must agree."""
    images = read_idx_images(
        images_path, expected_count=expected_count, expected_shape=expected_shape
    )
    labels = read_idx_labels(labels_path, n_classes=n_classes, expected_count=expected_count)
    if len(images) != len(labels):
        raise DataFormatError(
            f"{labels_path}: expected {len(images)} labels (one per image in {images_path}), "
            f"found {len(labels)}"
        )
    return images, labels
