"""MaskablePPO on NB201Seq-v0 against REINFORCE and REA under the NB201 protocol.

    python benchmarks/nb201_ppo.py [--model PATH] [--runs 100] [--workers 1]

The policy (default: the shipped ``ppo-nb201``, trained on CIFAR-10's table with env seeds
1000+, see ``policies/ppo_nb201_cifar10.json``) searches ``nasgym/NB201Seq-v0`` with
evaluation seeds ``0..runs-1`` (never used in training), acting stochastically from each run's
seed. REINFORCE (defaults) and REA search ``nasgym/NB201-v0`` (the same protocol, one cell per
step) with the same seeds, as in ``benchmarks/nb201_protocol.py``. For each data set it prints
the mean ± std of the chosen cell's 200-epoch test accuracy, ``z`` against the published mean
(in standard errors of ours), and paired Wilcoxon signed-rank tests of PPO against each
baseline (``p``, the mean paired difference and the matched-pairs rank-biserial ``r``, ``n``).
CIFAR-100 and ImageNet16-120 are transfer: the policy never saw their tables. Ends with one
JSON line.
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
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nb201_protocol import DATASETS, PUBLISHED, run_search  # noqa: E402

from agents import make_agent  # noqa: E402
from nasgym.envs.nb201_seq import NB201SeqEnv  # noqa: E402

BASELINES = ("reinforce", "rea")


def run_policy(model: str | None, dataset: str, seed: int) -> dict[str, float]:
    """One NB201Seq-v0 search by the policy; the incumbent's accuracies and the cells evaluated."""
    env = NB201SeqEnv(dataset=dataset)
    obs, _ = env.reset(seed=seed)
    if model is None:
        agent = make_agent("ppo-nb201", env, seed=seed)
    else:
        agent = make_agent("sb3", env, seed=seed, path=model)
    done, info = False, {}
    while not done:
        action, _ = agent.predict(obs)
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return {
        "test": info["best_test_acc_200"],
        "valid": info["best_valid_acc_12"],
        "cells": env.steps,
    }


def _job(args: tuple[str, str | None, str, int]) -> tuple[str, str, int, dict[str, float]]:
    row, model, dataset, seed = args
    if row == "ppo":
        return row, dataset, seed, run_policy(model, dataset, seed)
    return row, dataset, seed, run_search(row, dataset, seed)


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Wilcoxon signed-rank test of ``a - b`` (two-sided), mean difference, rank-biserial r."""
    diff = a - b
    nz = diff[diff != 0]
    if len(nz) == 0:
        return {"p": 1.0, "mean_diff": 0.0, "r": 0.0, "n": len(diff)}
    ranks = stats.rankdata(np.abs(nz))
    r = (ranks[nz > 0].sum() - ranks[nz < 0].sum()) / ranks.sum()
    p = stats.wilcoxon(a, b).pvalue
    return {"p": float(p), "mean_diff": float(diff.mean()), "r": float(r), "n": len(diff)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the comparison and print the table and the final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="SB3 model (default: shipped ppo-nb201)")
    parser.add_argument("--runs", type=int, default=100, help="evaluation seeds 0..runs-1")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    jobs = [
        (row, args.model, d, s)
        for d in DATASETS
        for row in ("ppo", *BASELINES)
        for s in range(args.runs)
    ]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            done = list(pool.map(_job, jobs, chunksize=10))
    else:
        done = [_job(j) for j in jobs]
    acc: dict[tuple[str, str], np.ndarray] = {}
    for row in ("ppo", *BASELINES):
        for d in DATASETS:
            rows = sorted((s, r["test"]) for rw, dd, s, r in done if rw == row and dd == d)
            acc[row, d] = np.array([t for _, t in rows])
    cells = {d: np.mean([r["cells"] for rw, dd, _, r in done if rw == "ppo" and dd == d])
             for d in DATASETS}  # fmt: skip
    wall = time.perf_counter() - start
    summary: dict[str, Any] = {"runs": args.runs, "model": args.model or "ppo-nb201",
                               "wall_s": round(wall, 1)}  # fmt: skip
    print(f"NB201 protocol, {args.runs} paired seeds per data set, wall {wall:.1f} s")
    print(f"{'data set':<15} {'row':<10} {'test acc':>14} {'published':>14} {'z':>6}   vs PPO")
    for d in DATASETS:
        for row in ("ppo", *BASELINES):
            a = acc[row, d]
            ref = "reinforce" if row == "ppo" else row
            pm, ps = PUBLISHED[ref][d]
            se = a.std(ddof=1) / np.sqrt(len(a))
            z = (a.mean() - pm) / se if se > 1e-9 else None  # every run chose the same cell
            entry: dict[str, Any] = {"mean": round(float(a.mean()), 3),
                                     "std": round(float(a.std()), 3), "z_vs_published_" + ref:
                                     None if z is None else round(float(z), 2)}  # fmt: skip
            test = ""
            if row != "ppo":
                t = paired(acc["ppo", d], a)
                entry["ppo_minus_this"] = {k: float(f"{v:.4g}") for k, v in t.items()} | {
                    "n": len(a)
                }
                test = f"diff {t['mean_diff']:+.2f}, p={t['p']:.2g}, r={t['r']:+.2f}, n={t['n']}"
            else:
                entry["mean_cells"] = round(float(cells[d]), 1)
            summary[f"{row}/{d}"] = entry
            zs = "n/a" if z is None else f"{z:.1f}"
            print(f"{d:<15} {row:<10} {a.mean():>7.2f} ± {a.std():<4.2f} {pm:>7.2f} ± {ps:<4.2f}"
                  f" {zs:>6}   {test}")  # fmt: skip
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
