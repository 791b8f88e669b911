"""Progressive search stages (TND-NAS Algorithm 2, after P-DARTS) and the op-dropping rule.

A search runs ``len(cells)`` stages of ``steps`` steps each. Stage ``k`` uses a supernet of
``cells[k]`` cells in which decision ``d`` of cell type ``ct`` still offers ``keep[ct][k]`` ops.
Between stages the least promising ops of each decision are dropped (:func:`drop_ops`): those
of lowest architecture probability (TND-NAS Eq. 11) or, without one, the least chosen; an op
sampled fewer than a minimum number of times is never dropped.

Default ``keep`` (:func:`default_keep`): the fractions 1, 0.6, 0.4, ... of each cell type's op
count, rounded up (``tnd``: normal 10 -> 6 -> 4, reduce 6 -> 4 -> 3; ``darts``: 8 -> 5 -> 4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nasgym.spaces import CellSpace

#: fraction of each cell type's ops kept at stage k (beyond the table: 0.4)
KEEP_FRACTIONS: tuple[float, ...] = (1.0, 0.6, 0.4)


def default_keep(space: CellSpace, n_stages: int) -> dict[str, tuple[int, ...]]:
    """Ops kept per stage and cell type: ``ceil(fraction * n_ops)`` with :data:`KEEP_FRACTIONS`."""
    out = {}
    for ct in space.cell_types:
        n = len(space.ops(ct))
        fr = [KEEP_FRACTIONS[min(k, len(KEEP_FRACTIONS) - 1)] for k in range(n_stages)]
        out[ct] = tuple(max(1, math.ceil(f * n - 1e-9)) for f in fr)
    return out


@dataclass(frozen=True)
class StageSchedule:
    """Cells, steps and kept ops of every stage (validated at construction)."""

    cells: tuple[int, ...]
    steps: int
    keep: dict[str, tuple[int, ...]]

    @property
    def n_stages(self) -> int:
        """Number of stages."""
        return len(self.cells)

    @property
    def total_steps(self) -> int:
        """Steps of a whole episode."""
        return self.steps * len(self.cells)

    @classmethod
    def build(
        cls,
        space: CellSpace,
        cells: Sequence[int],
        steps: int,
        keep: Mapping[str, Sequence[int]] | None,
    ) -> StageSchedule:
        """Validate the arguments ``stage_cells``, ``stage_steps``, ``keep_ops`` of the env."""
        cells = tuple(int(c) for c in cells)
        if not cells or any(c < 3 for c in cells):
            raise ValueError(f"stage_cells must be a non-empty list of ints >= 3, got {cells}")
        if any(b <= a for a, b in zip(cells, cells[1:], strict=False)):
            raise ValueError(
                f"stage_cells must strictly increase (the network deepens at every stage, "
                f"TND-NAS Algorithm 2), got {cells}; e.g. (3, 4, 5)"
            )
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"stage_steps must be a positive int, got {steps!r}")
        keep = default_keep(space, len(cells)) if keep is None else dict(keep)
        if set(keep) != set(space.cell_types):
            raise ValueError(
                f"keep_ops needs one sequence per cell type {space.cell_types}, got {sorted(keep)}"
            )
        fixed = {}
        for ct, counts in keep.items():
            counts = tuple(int(c) for c in counts)
            n = len(space.ops(ct))
            if len(counts) != len(cells):
                raise ValueError(
                    f"keep_ops[{ct!r}] needs one count per stage ({len(cells)}), got {counts}"
                )
            if counts[0] != n or any(c < 1 for c in counts):
                raise ValueError(
                    f"keep_ops[{ct!r}] must start at all {n} ops and stay >= 1, got {counts}"
                )
            if any(b > a for a, b in zip(counts, counts[1:], strict=False)):
                raise ValueError(f"keep_ops[{ct!r}] must not increase, got {counts}")
            fixed[ct] = counts
        return cls(cells=cells, steps=steps, keep=fixed)


def drop_ops(
    allowed: np.ndarray,
    counts: np.ndarray,
    reward_sums: np.ndarray,
    keep: int,
    scores: np.ndarray | None = None,
    protected: np.ndarray | None = None,
) -> np.ndarray:
    """Mask of one decision after dropping its least promising allowed ops down to ``keep``.

    Ops are ranked by ``scores`` (the architecture probabilities, TND-NAS Eq. 11) when given,
    else by how often the agent chose them during the stage; ties by the mean reward when
    chosen (never chosen: -inf), then by choice count, then by op order (earlier ops kept). The
    ``n_allowed - keep`` lowest-ranked ops are dropped, except ``protected`` ones (ops not yet
    sampled often enough to judge), which stay, so a decision may keep more than ``keep``.
    Dropped ops stay dropped; at least one op is always kept.
    """
    idx = np.flatnonzero(allowed)
    keep = max(1, min(int(keep), idx.size))
    mean = np.full(allowed.shape, -np.inf)
    chosen = counts > 0
    mean[chosen] = reward_sums[chosen] / counts[chosen]
    primary = counts.astype(float) if scores is None else np.asarray(scores, dtype=float)
    # lexsort: last key is primary; sort descending by score, then mean, then count, then index
    order = np.lexsort((idx, -counts[idx], -mean[idx], -primary[idx]))
    out = np.zeros_like(allowed, dtype=bool)
    out[idx[order[:keep]]] = True
    if protected is not None:
        out |= allowed & np.asarray(protected, dtype=bool)
    return out


__all__ = ["KEEP_FRACTIONS", "StageSchedule", "default_keep", "drop_ops"]
