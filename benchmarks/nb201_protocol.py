"""NAS-Bench-201 search protocol: random search, REINFORCE and REA on NB201-v0, beside the paper.

    python benchmarks/nb201_protocol.py [--runs 100] [--workers 2] [--quick]

For each agent and data set (cifar10, cifar100, ImageNet16-120), ``--runs`` searches (seeds
0..runs-1) under the NB201 protocol: the reward is the 12-epoch validation accuracy, the
budget 12,000 s of simulated training time, and the chosen cell is the incumbent (best
12-epoch validation accuracy seen). Prints the mean ± std of the chosen cell's 200-epoch test
accuracy beside the published rows of ``../shared/data/nb201/BASELINES.md`` (mean ± std over
500 runs), with Welch's two-sided t-test of our runs against them (``t`` > 0: our mean is
higher; ``p``; :func:`nasgym.stats.welch_vs_published`). A row counts as above or below the
published one only when ``p < 0.05``; otherwise it matches it. Ends with one JSON line.

Rows (``ROWS``): ``random``, ``reinforce`` and ``rea`` run with their documented defaults
(REINFORCE as in TND-NAS: 4 multinomial samples per Adam update, EMA baseline, epsilon-uniform
exploration). ``reinforce-tuned`` is a labelled, tuned configuration of the same agent
(``batch_size=1, lr=0.2, memo=True``: one sample per update, and a cell already evaluated in
this search is learned from again with its remembered reward instead of being paid for
twice), chosen on CIFAR-10 by the incumbent's 12-epoch validation accuracy over seeds
1000-1149, disjoint from the seeds reported here and never looking at a test accuracy (see
``agents/reinforce.py``). Every row runs the same protocol, budget and seeds; the published
REINFORCE row is the reference for both REINFORCE rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents import make_agent  # noqa: E402
from nasgym.envs.nb201 import NB201Env  # noqa: E402
from nasgym.stats import ALPHA, welch_vs_published  # noqa: E402
from nasgym.tables.published import NB201_PUBLISHED, NB201_PUBLISHED_RUNS  # noqa: E402

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
#: row label -> (registered agent, hyperparameters that differ from its defaults)
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}),
    "reinforce": ("reinforce", {}),
    "reinforce-tuned": ("reinforce", {"batch_size": 1, "lr": 0.2, "memo": True}),
    "rea": ("rea", {}),
}
#: published mean ± std (NB201 paper, Table 5), test accuracy in %
PUBLISHED = dict(NB201_PUBLISHED)
PUBLISHED["reinforce-tuned"] = PUBLISHED["reinforce"]
PUBLISHED_RUNS = NB201_PUBLISHED_RUNS


def run_search(
    agent: str,
    dataset: str,
    seed: int,
    time_budget: float = 12000.0,
    agent_params: dict[str, Any] | None = None,
) -> dict[str, float]:
    """One search episode; returns the incumbent's accuracies, steps and cost."""
    env = NB201Env(dataset=dataset, time_budget=time_budget)
    policy = make_agent(agent, env, seed=seed, **(agent_params or {}))
    obs, _ = env.reset(seed=seed)
    policy.reset()
    done, info = False, {}
    while not done:
        action, _ = policy.predict(obs)
        nxt, reward, terminated, truncated, info = env.step(action)
        policy.update(obs, action, reward, nxt, terminated, truncated, info)
        obs, done = nxt, terminated or truncated
    return {
        "test": info["best_test_acc_200"],
        "valid": info["best_valid_acc_12"],
        "steps": env.steps,
        "cost": info["cost"],
    }


def _batch(args: tuple[str, str, list[int], float]) -> list[dict[str, float]]:
    row, dataset, seeds, budget = args
    agent, params = ROWS[row]
    return [run_search(agent, dataset, s, budget, params) for s in seeds]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the table and the final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=100, help="searches (seeds) per agent and data set"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--budget", type=float, default=12000.0, help="simulated seconds per search"
    )
    parser.add_argument("--quick", action="store_true", help="10 runs per cell of the table")
    args = parser.parse_args(argv)
    runs = 10 if args.quick else args.runs
    start = time.perf_counter()
    jobs = [(a, d) for d in DATASETS for a in ROWS]
    chunks = [
        (a, d, list(range(k, runs, args.workers)), args.budget)
        for a, d in jobs
        for k in range(args.workers)
    ]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            parts = list(pool.map(_batch, chunks))
    else:
        parts = [_batch(c) for c in chunks]
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for (a, d, _s, _b), part in zip(chunks, parts, strict=True):
        results.setdefault(a, {}).setdefault(d, []).extend(part)
    wall = time.perf_counter() - start
    summary: dict[str, Any] = {
        "runs": runs,
        "budget_s": args.budget,
        "wall_s": round(wall, 2),
        "rows": {row: {"agent": a, "params": p} for row, (a, p) in ROWS.items()},
    }
    print(f"NB201 protocol: {runs} runs per cell, budget {args.budget:.0f} s, wall {wall:.1f} s")
    for row, (agent, params) in ROWS.items():
        print(f"  {row}: agent {agent!r}, {params or 'defaults'}")
    print(
        f"{'row':<16} {'dataset':<15} {'ours: test acc':>18} {'published':>16} "
        f"{'valid12':>8} {'evals':>6} {'t':>6} {'p':>8}  vs published"
    )
    for a in ROWS:
        for d in DATASETS:
            rows = results[a][d]
            test = np.array([r["test"] for r in rows])
            valid = np.array([r["valid"] for r in rows])
            steps = np.array([r["steps"] for r in rows])
            pm, ps = PUBLISHED[a][d]
            test_ = welch_vs_published(test, pm, ps, PUBLISHED_RUNS)
            verdict = "matches"
            if test_["p"] < ALPHA:
                verdict = "above" if test_["t"] > 0 else "below"
            print(
                f"{a:<16} {d:<15} {test.mean():>9.2f} ± {test.std(ddof=1):<5.2f} "
                f"{pm:>9.2f} ± {ps:<4.2f} {valid.mean():>8.2f} {steps.mean():>6.1f} "
                f"{test_['t']:>6.2f} {test_['p']:>8.2g}  {verdict}"
            )
            summary[f"{a}/{d}"] = {
                "mean": round(float(test.mean()), 3),
                "std": round(float(test.std(ddof=1)), 3),
                "n": int(len(test)),
                "published": pm,
                "published_std": ps,
                "published_n": PUBLISHED_RUNS,
                "welch_t": round(test_["t"], 2),
                "p": float(f"{test_['p']:.3g}"),
                "vs_published": verdict,
                "mean_evals": round(float(steps.mean()), 1),
            }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
