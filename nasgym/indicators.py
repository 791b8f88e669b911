"""Multi-objective indicators of search results (all objectives lower-is-better), on moocore.

Normalisation and reference point (fixed, documented): every environment declares
``objective_spec = {name: (ideal, reference)}``. An objective value ``v`` is normalised to
``(v - ideal) / (reference - ideal)``, so the ideal maps to 0 and the reference to 1, and the
hypervolume is measured against the reference point ``(1, ..., 1)`` in that space. Points at or
beyond the reference in any objective contribute nothing (their box is empty). The hypervolume
of a set is therefore a fraction of the box between ideal and reference (1.0 = the ideal point
was reached). IGD+ is also computed in the normalised space, so objectives on different scales
weigh alike.

Failed evaluations (a diverged VALP reports infinite objectives; the results file stores
non-finite values as null, read back as NaN) are rows with a NaN or infinite value: every
indicator leaves them out, so they add no hypervolume, are never non-dominated and do not
enter IGD+.

The first paper's comparisons of agents (its Figs. 8 and 9) are :func:`front_shares` (per
paired seed, each agent's share of the combined Pareto front) and :func:`front_counts` (all
runs pooled, each agent's number of points in the combined front). Each agent's points are
de-duplicated first, and a point that several agents found counts for each of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import moocore
import numpy as np

__all__ = [
    "front_counts",
    "front_counts_by_step",
    "front_shares",
    "hypervolume",
    "hypervolume_curve",
    "igd_plus",
    "nondominated_count",
    "nondominated_mask",
    "normalise",
]

Bounds = Sequence[tuple[float, float]]


def _as_points(points: np.ndarray | Sequence[Sequence[float]], name: str = "points") -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim == 1 and arr.size == 0:
        return arr.reshape(0, 0)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_points, n_objectives), got shape {arr.shape}"
        )
    return arr


def normalise(points: np.ndarray | Sequence[Sequence[float]], bounds: Bounds) -> np.ndarray:
    """Map each objective to ``(v - ideal) / (reference - ideal)``; ``bounds`` = ``[(ideal, ref), ...]``."""
    arr = _as_points(points)
    b = np.asarray(bounds, dtype=float).reshape(-1, 2)
    if arr.size and arr.shape[1] != len(b):
        raise ValueError(f"points have {arr.shape[1]} objectives but bounds give {len(b)}")
    span = b[:, 1] - b[:, 0]
    if np.any(span <= 0):
        raise ValueError(
            f"every reference must exceed its ideal (lower is better), got bounds {b.tolist()}"
        )
    if arr.size == 0:
        return arr.reshape(0, len(b))
    return (arr - b[:, 0]) / span


def hypervolume(
    points: np.ndarray | Sequence[Sequence[float]], bounds: Bounds | None = None
) -> float:
    """Hypervolume of ``points`` against the reference point 1.0 (after :func:`normalise` if ``bounds``)."""
    arr = _as_points(points)
    if arr.size == 0:
        return 0.0
    norm = normalise(arr, bounds) if bounds is not None else arr
    inside = _finite(norm) & np.all(norm < 1.0, axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(norm[inside], ref=np.ones(arr.shape[1])))


def hypervolume_curve(
    points: np.ndarray | Sequence[Sequence[float]], bounds: Bounds | None = None
) -> np.ndarray:
    """Hypervolume of the first ``t`` points, for ``t = 1 .. len(points)``."""
    arr = _as_points(points)
    n = len(arr)
    out = np.zeros(n)
    if n == 0:
        return out
    norm = np.minimum(normalise(arr, bounds) if bounds is not None else arr, 1.0)
    front = np.empty((0, arr.shape[1]))
    hv = 0.0
    for t in range(n):
        p = norm[t]
        if np.all(np.isfinite(p)) and np.all(p < 1.0) and not _dominated_by_any(p, front):
            front = np.vstack([front[~np.all(p <= front, axis=1)], p])
            hv = float(moocore.hypervolume(front, ref=np.ones(arr.shape[1])))
        out[t] = hv
    return out


def _dominated_by_any(p: np.ndarray, front: np.ndarray) -> bool:
    """Whether some point of ``front`` weakly dominates ``p`` (so ``p`` adds no volume)."""
    return bool(len(front)) and bool(np.any(np.all(front <= p, axis=1)))


def nondominated_mask(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Boolean mask of the points no other point dominates (duplicates all kept; rows with a
    NaN or infinite value are False)."""
    arr = _as_points(points)
    mask = np.zeros(len(arr), dtype=bool)
    ok = _finite(arr) if arr.size else mask
    if ok.any():
        mask[ok] = np.asarray(moocore.is_nondominated(arr[ok], keep_weakly=True), dtype=bool)
    return mask


def nondominated_count(points: np.ndarray | Sequence[Sequence[float]]) -> int:
    """Number of distinct non-dominated points."""
    arr = _as_points(points)
    if arr.size == 0:
        return 0
    return int(len(np.unique(arr[nondominated_mask(arr)], axis=0)))


def front_counts(sets: Mapping[str, np.ndarray | Sequence[Sequence[float]]]) -> dict[str, int]:
    """Per set (agent), its number of distinct points on the Pareto front of all sets combined.

    Rows with NaN or infinite values (failed evaluations) are left out.
    """
    uniq = {k: _unique_rows(v) for k, v in sets.items()}
    non_empty = [u for u in uniq.values() if u.size]
    if not non_empty:
        return {k: 0 for k in sets}
    combined = np.vstack(non_empty)
    mask = nondominated_mask(combined)
    counts: dict[str, int] = {}
    start = 0
    for k, u in uniq.items():
        n = len(u) if u.size else 0
        counts[k] = int(mask[start : start + n].sum())
        start += n
    return counts


def front_shares(sets: Mapping[str, np.ndarray | Sequence[Sequence[float]]]) -> dict[str, float]:
    """Per set (agent), its share of the combined Pareto front (counts over their sum; sums to 1)."""
    counts = front_counts(sets)
    total = sum(counts.values())
    return {k: (c / total if total else 0.0) for k, c in counts.items()}


def front_counts_by_step(
    sets: Mapping[str, np.ndarray | Sequence[Sequence[float]]], steps: Sequence[int]
) -> dict[str, np.ndarray]:
    """:func:`front_counts` of each set's first ``t`` points, for each ``t`` in ``steps``."""
    arrays = {k: _as_points(v) for k, v in sets.items()}
    out = {k: np.zeros(len(steps), dtype=int) for k in arrays}
    for i, t in enumerate(steps):
        counts = front_counts({k: a[:t] for k, a in arrays.items()})
        for k, c in counts.items():
            out[k][i] = c
    return out


def igd_plus(
    points: np.ndarray | Sequence[Sequence[float]],
    reference_front: np.ndarray | Sequence[Sequence[float]],
    bounds: Bounds | None = None,
) -> float:
    """IGD+ of ``points`` to ``reference_front`` (the true front), normalised by ``bounds`` if given.

    Infinite when ``points`` holds no finite row."""
    arr = _as_points(points)
    ref = _as_points(reference_front, "reference_front")
    if arr.size:
        arr = arr[_finite(arr)]
    if arr.size == 0:
        return float("inf")
    if ref.size == 0:
        raise ValueError("reference_front is empty; IGD+ needs at least one reference point")
    if bounds is not None:
        arr, ref = normalise(arr, bounds), normalise(ref, bounds)
    return float(moocore.igd_plus(arr, ref=ref))


def _finite(arr: np.ndarray) -> np.ndarray:
    """Mask of the rows of a 2-D array without NaN or infinite values."""
    return np.all(np.isfinite(arr), axis=1)


def _unique_rows(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Distinct rows, leaving out rows with NaN or infinite values (failed evaluations)."""
    arr = _as_points(points)
    if not arr.size:
        return arr
    arr = arr[_finite(arr)]
    return np.unique(arr, axis=0) if arr.size else arr
