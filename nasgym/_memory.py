"""Returning freed memory to the operating system (glibc's ``malloc_trim`` and mmap threshold;
no-ops elsewhere)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from typing import Any

#: allocations of this many bytes or more are served by ``mmap`` once :func:`bound_heap` ran,
#: and inside :func:`bounded_heap`
MMAP_THRESHOLD = 1 << 20
#: the mmap threshold after a :func:`bounded_heap` section: the largest one glibc's own dynamic
#: threshold reaches on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``), where a process that freed large
#: blocks ends up anyway; the trim threshold is set to twice it, as glibc's dynamic rule does
RELAXED_THRESHOLD = 32 << 20
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
_M_MMAP_THRESHOLD = -3


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        libc.mallopt  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()
_BOUNDED: list[bool] = []


def trim() -> None:
    """Give the allocator's free pages back. Torch tensors of many sizes, freed step after step
    (discarded candidate models, batches), otherwise leave the heap fragmented and the resident
    size growing although nothing is referenced (measured on a VALP episode)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def bound_heap() -> bool:
    """Serve every allocation of :data:`MMAP_THRESHOLD` bytes or more by ``mmap``, so that it
    goes back to the system when freed; returns whether the setting was applied.

    glibc otherwise raises its threshold to the largest block freed so far, so the activations
    and weights of a few MB that a VALP step allocates and frees end up in the heap, where they
    stay resident. Measured on the 60-step Fashion-MNIST episode of
    ``benchmarks/valp_memory.py --bound-heap`` (seed 0, whose model grows to 878k parameters):
    RSS growth 49 and 51 MiB in two runs without it, 30 MiB with it, the same time a step
    (measured before the env bounded its own sections; with :func:`bounded_heap`, as now, the
    episode grows 40 and 33 MiB without it). But every
    block of 1 MiB or more then costs fresh page faults: a small CNN trained on 128 images of
    28x28 (6 MiB activations) runs about 1.5x slower (``benchmarks/heap_threshold.py``). So it is
    opt-in, never applied by nasgym itself, which bounds the heap of the VALP env's own resets
    and steps only (:func:`bounded_heap`). Process-wide, applied once, glibc only, and never
    when the user set ``MALLOC_MMAP_THRESHOLD_`` (their setting wins).
    """
    if not _BOUNDED:
        ok = _LIBC is not None and not _user_threshold()
        _BOUNDED.append(bool(ok and _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1))
    return _BOUNDED[0]


def _user_threshold() -> bool:
    return "MALLOC_MMAP_THRESHOLD_" in os.environ


@contextlib.contextmanager
def bounded_heap() -> Iterator[bool]:
    """Inside the block, serve every allocation of :data:`MMAP_THRESHOLD` bytes or more by
    ``mmap``; after it, fix the threshold at :data:`RELAXED_THRESHOLD` (trim threshold twice
    that). Yields whether the setting was applied.

    What :func:`bound_heap` does, scoped to the code that benefits: a VALP env's reset and steps
    allocate and free weights and activations of a few MB, which glibc's dynamic threshold
    otherwise keeps in the heap, where they stay resident. Outside the block, large blocks come
    from the heap again, as after glibc's own warm-up, so convolutional training in the same
    process runs at its usual speed (``benchmarks/heap_threshold.py``, variant ``scoped``). Measured on
    ``benchmarks/valp_memory.py`` (README, *Benchmarks*). Not applied when the user set
    ``MALLOC_MMAP_THRESHOLD_`` or called :func:`bound_heap` (their setting wins); glibc only.
    """
    if _LIBC is None or _user_threshold() or (_BOUNDED and _BOUNDED[0]):
        yield False
        return
    _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    try:
        yield True
    finally:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, RELAXED_THRESHOLD)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, 2 * RELAXED_THRESHOLD)


__all__ = ["MMAP_THRESHOLD", "RELAXED_THRESHOLD", "bound_heap", "bounded_heap", "trim"]
