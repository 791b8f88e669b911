"""The first paper's comparisons of agents, per step: its Fig. 8 and Fig. 9, and their tests.

- Fig. 8: for each paired seed (run by every agent), each agent's share of the Pareto front of
  all agents' models of that seed combined, after ``t`` steps;
- Fig. 9: all runs of each agent pooled, each agent's number of points in the combined front,
  after ``t`` steps;
- :func:`tests_by_step`: whether one agent is ahead of another after ``t`` steps (the paper's
  "ahead from step ~20 on"), by paired Wilcoxon tests of hypervolume (and of the test
  hypervolume, where every run carries test scores) and of Fig. 8 for the pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasgym import indicators as ind
from nasgym import stats as st
from nasgym.bench.results import Bounds, Run, finite_rows, selected_test_points

#: select on validation, report on test: the hypervolume of the test scores of the models a
#: run's validation front holds (:func:`~nasgym.bench.results.selected_test_points`)
TEST_HV = "test hypervolume"
#: the pairwise Fig. 8 metric: an agent's share of the front of the two agents' models, per seed
PAIR_FRONT_SHARE = "front share (pair)"


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


def pair_front_shares(
    runs_a: dict[int, Run],
    runs_b: dict[int, Run],
    seeds: Sequence[int],
    names: list[str],
    t: int | None = None,
) -> tuple[list[float], list[float]]:
    """Per seed, each of two agents' share of the Pareto front of both runs' first ``t`` models
    together (all when None): Fig. 8 for the pair (a seed's two shares sum to 1 unless neither
    run has a finite model)."""
    xa, xb = [], []
    for s in seeds:
        sets = {"a": runs_a[s].points(names)[:t], "b": runs_b[s].points(names)[:t]}
        shares = ind.front_shares(sets)
        xa.append(shares["a"])
        xb.append(shares["b"])
    return xa, xb


def tests_by_step(
    by_agent: dict[str, list[Run]], names: list[str], bounds: Bounds, steps: Sequence[int]
) -> list[dict]:
    """For every pair of agents and every checkpoint ``t`` of ``steps``, on the seeds both ran:
    two-sided paired Wilcoxon tests of the hypervolume of each run's first ``t`` models and of
    :func:`pair_front_shares` after ``t`` steps. Each entry: ``step``, ``metric``
    (``"hypervolume"``, :data:`TEST_HV` where every run carries test scores, or
    :data:`PAIR_FRONT_SHARE`), ``a``, ``b``, ``n``, ``p``, ``p_holm``
    (Holm over the agent pairs of that metric and step), ``effect`` (rank-biserial, > 0 when
    ``a`` is ahead) and ``median_diff`` (``a - b``)."""
    runs = {a: {r.seed: r for r in lst} for a, lst in by_agent.items()}
    hv = {
        (a, s, t): ind.hypervolume(finite_rows(r.points(names)[:t]), bounds)
        for a, by_seed in runs.items()
        for s, r in by_seed.items()
        for t in steps
    }
    test = {
        (a, s, t): None if pts is None else ind.hypervolume(pts, bounds)
        for a, by_seed in runs.items()
        for s, r in by_seed.items()
        for t in steps
        for pts in [selected_test_points(r, names, t)]
    }
    metrics = ["hypervolume", PAIR_FRONT_SHARE]
    if test and all(v is not None for v in test.values()):
        metrics.insert(1, TEST_HV)
    agents = list(by_agent)
    out: list[dict] = []
    for t in steps:
        for metric in metrics:
            family = []
            for i, a in enumerate(agents):
                for b in agents[i + 1 :]:
                    seeds = sorted(set(runs[a]) & set(runs[b]))
                    if metric in ("hypervolume", TEST_HV):
                        table = hv if metric == "hypervolume" else test
                        xa = [table[a, s, t] for s in seeds]
                        xb = [table[b, s, t] for s in seeds]
                    else:
                        xa, xb = pair_front_shares(runs[a], runs[b], seeds, names, t)
                    res = st.paired_wilcoxon(xa, xb)
                    family.append({
                        "step": t, "metric": metric, "a": a, "b": b, "n": res["n"],
                        "p": res["p"], "effect": res["effect"], "median_diff": res["median_diff"],
                    })  # fmt: skip
            for entry, adj in zip(family, st.holm([e["p"] for e in family]), strict=True):
                entry["p_holm"] = adj
            out += family
    return out
