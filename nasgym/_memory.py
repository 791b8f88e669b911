"""Returning freed memory to the operating system (glibc's ``malloc_trim``; a no-op elsewhere)."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def trim() -> None:
    """Give the allocator's free pages back. Torch tensors of many sizes, freed step after step
    (discarded candidate models, batches), otherwise leave the heap fragmented and the resident
    size growing although nothing is referenced (measured on a VALP episode)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


__all__ = ["trim"]
