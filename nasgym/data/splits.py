"""Deterministic, stratified index splits (every draw comes from a passed-in Generator)."""

from __future__ import annotations

import numpy as np

__all__ = ["stratified_take"]


def _allocate(class_counts: np.ndarray, n_take: int) -> np.ndarray:
    """Split ``n_take`` over classes in proportion to ``class_counts`` (largest remainder)."""
    total = int(class_counts.sum())
    if total == 0 or n_take == 0:
        return np.zeros_like(class_counts)
    quota = class_counts * (n_take / total)
    take = np.minimum(np.floor(quota).astype(np.int64), class_counts)
    short = n_take - int(take.sum())
    if short > 0:
        # hand the remaining items to the classes with the largest remainders (ties: lower
        # class first), skipping classes that have nothing left to give
        room = class_counts - take
        order = np.lexsort((np.arange(len(quota)), -(quota - np.floor(quota))))
        order = order[room[order] > 0]
        take[order[:short]] += 1
    return take


def stratified_take(
    indices: np.ndarray, labels: np.ndarray, n_take: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pick exactly ``n_take`` of ``indices``, keeping class proportions of ``labels[indices]``.

    Returns ``(taken, rest)``, each sorted ascending. ``n_take`` must lie in ``0..len(indices)``.
    """
    if not 0 <= n_take <= len(indices):
        raise ValueError(f"cannot take {n_take} items out of {len(indices)}")
    sub = labels[indices]
    classes, inverse, counts = np.unique(sub, return_inverse=True, return_counts=True)
    take = _allocate(counts, n_take)
    assert int(take.sum()) == n_take, (take, n_take)
    picked = np.zeros(len(indices), dtype=bool)
    for k in range(len(classes)):
        members = np.flatnonzero(inverse == k)
        picked[rng.permutation(members)[: take[k]]] = True
    return np.sort(indices[picked]), np.sort(indices[~picked])
