"""The first paper's comparisons of agents, per step: its Fig. 8 and Fig. 9.

- Fig. 8: for each paired seed (run by every agent), each agent's share of the Pareto front of
  all agents' models of that seed combined, after ``t`` steps;
- Fig. 9: all runs of each agent pooled, each agent's number of points in the combined front,
  after ``t`` steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasgym import indicators as ind
from nasgym.bench.results import Run


def checkpoints(n_steps: int, k: int = 4) -> list[int]:
    """``k`` steps spread evenly up to ``n_steps`` (fewer when there are fewer steps)."""
    if n_steps <= 0:
        return []
    return sorted({max(1, round(n_steps * (i + 1) / k)) for i in range(k)})


def max_steps(by_agent: dict[str, list[Run]]) -> int:
    """The most steps any run took."""
    return max((len(r.steps) for lst in by_agent.values() for r in lst), default=0)


def paired_sets(
    by_agent: dict[str, list[Run]], names: list[str]
) -> dict[int, dict[str, np.ndarray]]:
    """Per seed that every agent ran, each agent's objective vectors (one row per step)."""
    out: dict[int, dict[str, np.ndarray]] = {}
    for agent, lst in by_agent.items():
        for run in lst:
            out.setdefault(run.seed, {})[agent] = run.points(names)
    return {s: sets for s, sets in sorted(out.items()) if len(sets) == len(by_agent)}


def front_shares_by_step(
    by_agent: dict[str, list[Run]], names: list[str], steps: Sequence[int]
) -> dict[str, list[list[float]]]:
    """Fig. 8: per agent and checkpoint, the shares over the paired seeds."""
    shares: dict[str, list[list[float]]] = {a: [[] for _ in steps] for a in by_agent}
    for sets in paired_sets(by_agent, names).values():
        counts = ind.front_counts_by_step(sets, steps)
        totals = np.sum([counts[a] for a in by_agent], axis=0)
        for a in by_agent:
            for i, total in enumerate(totals):
                shares[a][i].append(float(counts[a][i] / total) if total else 0.0)
    return shares


def pooled_counts_by_step(
    by_agent: dict[str, list[Run]], names: list[str], steps: Sequence[int]
) -> dict[str, list[int]]:
    """Fig. 9: per agent and checkpoint, its points in the front of all runs pooled."""
    out: dict[str, list[int]] = {a: [] for a in by_agent}
    for t in steps:
        sets = {
            a: np.vstack([r.points(names)[:t] for r in lst] or [np.empty((0, len(names)))])
            for a, lst in by_agent.items()
        }
        for a, c in ind.front_counts(sets).items():
            out[a].append(int(c))
    return out
