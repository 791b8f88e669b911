"""Does the supernet rank cells? Kendall tau / Spearman rho against from-scratch accuracy.

    nice -n 15 python benchmarks/supernet_ranking.py [--checkpoints 150,300,600] [--eval-images 512]
        [--seed 0] [--sampling uniform|fair] [--bn batch|running] [--lr 0.05]

The panel and its ground truth are ``benchmarks/data/supernet_panel.csv`` (20 ``tnd`` cells
spread over the parameter range, each trained from scratch on a Fashion-MNIST subset; rebuilt
by ``python benchmarks/supernet_panel.py``, whose docstring gives the recipe). This script
trains one supernet of the same macro (every ``tnd`` op built, C and cells of the recipe) the
way ``nasgym/Cell-v0`` trains stage 0: SGD (momentum 0.9, weight decay 3e-4, lr 0.05, clipping
5) on single paths, batch 64, BatchNorm with batch statistics, here with uniformly sampled
paths (``path_sampling="uniform"``: the supernet independent of any agent). At each training
budget of ``--checkpoints`` (training batches; Cell-v0's default search trains 150: 3 stages x
(10 warm-up + 20 steps x 2 batches)) it scores every panel cell with the inherited weights on
the same first ``--eval-images`` validation images, and prints Kendall tau and Spearman rho
(scipy, with p-values) between those accuracies and the panel's from-scratch test accuracies,
the mean supernet accuracy of the panel and the wall time so far. Ends with one JSON line.

Knobs: ``--sampling fair`` trains FairNAS-style paths (every op of a decision in turn, in a fresh
random order each cycle: :func:`nasgym.supernet.fair_paths`) instead of uniform ones; ``--bn
running`` evaluates with BatchNorm running statistics instead of the batch's; ``--lr`` the SGD
rate; ``--seed`` the supernet's weights and paths. Two seeds of one setting can differ by 0.3 in
tau (README, *Benchmarks*): compare settings over several seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from supernet_panel import DATA_DIR, DEFAULT_OUT, RECIPE, load_panel_data  # noqa: E402

from nasgym.spaces import get_space  # noqa: E402
from nasgym.supernet.trainer import StageTrainer, fair_paths, uniform_path  # noqa: E402


def read_panel(path: Path) -> tuple[dict, list[dict]]:
    """The recipe header and the rows of a ground-truth CSV."""
    with path.open() as fh:
        header = json.loads(fh.readline().lstrip("# "))
        rows = list(csv.DictReader(fh))
    return header, rows


@torch.no_grad()
def score(trainer: StageTrainer, ops: tuple[str, ...], x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of path ``ops`` with the supernet's weights on the fixed images ``x``."""
    trainer.model.eval()
    correct = 0
    for i in range(0, len(y), 256):
        correct += int((trainer.model(x[i : i + 256], ops).argmax(1) == y[i : i + 256]).sum())
    return correct / len(y)


def main(argv: list[str] | None = None) -> dict:
    """Train the supernet, rank the panel at each checkpoint, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", type=Path, default=DEFAULT_OUT, help="ground-truth CSV")
    parser.add_argument("--checkpoints", default="150,300,600", help="training batches")
    parser.add_argument("--eval-images", type=int, default=512, help="validation images per cell")
    parser.add_argument("--seed", type=int, default=0, help="supernet weights and path seed")
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="folder of the data sets")
    parser.add_argument(
        "--sampling", choices=("uniform", "fair"), default="uniform",
        help="paths: uniform per decision, or each op in turn (FairNAS's strict fairness)",
    )  # fmt: skip
    parser.add_argument(
        "--bn", choices=("batch", "running"), default="batch",
        help="BatchNorm statistics in evaluation: the batch's (the search default) or running",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    args = parser.parse_args(argv)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    if not checkpoints or checkpoints[0] < 1:
        raise SystemExit(f"--checkpoints must be positive batch counts, got {args.checkpoints!r}")
    torch.set_num_threads(1)
    header, rows = read_panel(args.panel)
    recipe = header["recipe"]
    if recipe != RECIPE:
        print(f"note: the panel was built with {recipe}, this script's recipe is {RECIPE}")
    space = get_space(recipe["space"])
    data = load_panel_data(args.data_dir, recipe)
    archs = [space.from_str(r["arch"]) for r in rows]
    truth = np.array([float(r["test_acc"]) for r in rows])
    x, y = data.val.x[: args.eval_images], data.val.y[: args.eval_images]
    allowed = [space.decision_ops(d) for d in range(space.n_decisions)]
    start = time.perf_counter()
    trainer = StageTrainer(
        space, data, allowed, n_cells=recipe["n_cells"], channels=recipe["channels"],
        batch_size=64, val_batch_size=256, lr=args.lr,
        generator=torch.Generator().manual_seed(args.seed), device=torch.device("cpu"),
        batch_stats=args.bn == "batch",
    )  # fmt: skip
    rng = np.random.default_rng(args.seed)
    if args.sampling == "fair":
        paths = fair_paths(trainer.allowed, rng, checkpoints[-1])
    else:
        paths = [uniform_path(trainer.allowed, rng) for _ in range(checkpoints[-1])]
    curve, done = [], 0
    print(f"panel: {len(rows)} cells, from-scratch test acc {truth.min():.3f}-{truth.max():.3f}")
    print(
        f"{'batches':>8} {'tau':>6} {'p':>8} {'rho':>6} {'p':>8} {'mean acc':>9} {'train s':>8} {'wall s':>7}"
    )
    train_s = 0.0
    for c in checkpoints:
        t0 = time.perf_counter()
        trainer.train(paths[done:c])
        train_s += time.perf_counter() - t0
        done = c
        acc = np.array([score(trainer, a.ops, x, y) for a in archs])
        tau, p_tau = stats.kendalltau(acc, truth)
        rho, p_rho = stats.spearmanr(acc, truth)
        wall = time.perf_counter() - start
        point = {
            "batches": c, "tau": round(float(tau), 3), "tau_p": float(p_tau), "rho": round(float(rho), 3),
            "rho_p": float(p_rho), "mean_supernet_acc": round(float(acc.mean()), 4),
            "train_s": round(train_s, 1), "wall_s": round(wall, 1),
        }  # fmt: skip
        curve.append(point)
        print(
            f"{c:>8} {tau:>6.3f} {p_tau:>8.2g} {rho:>6.3f} {p_rho:>8.2g} {acc.mean():>9.3f} {train_s:>8.0f} {wall:>7.0f}",
            flush=True,
        )
    out = {
        "panel": str(args.panel),
        "cells": len(rows),
        "eval_images": args.eval_images,
        "seed": args.seed,
        "sampling": args.sampling,
        "bn": args.bn,
        "lr": args.lr,
        "curve": curve,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
