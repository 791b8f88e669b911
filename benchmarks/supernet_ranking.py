"""Does the supernet rank cells? Kendall tau / Spearman rho against from-scratch accuracy.

    nice -n 15 python benchmarks/supernet_ranking.py [--checkpoints 150,300,600] [--eval-images 512]
        [--seed 0] [--sampling uniform|fair] [--bn batch|running] [--lr 0.05] [--ema 0]
        [--finetune 0,20,50] [--device cpu|cuda|auto]
        [--panel benchmarks/data/supernet_panel.csv [MORE_SEEDS.csv ...]]
    python benchmarks/supernet_ranking.py --rescore --from LOG... [--panel CSV ...] [--ensemble 2,4,8]
    python benchmarks/supernet_ranking.py --plot PNG --from LOG... [--seconds-per-batch 0.255]

The panel and its ground truth are ``benchmarks/data/supernet_panel.csv`` and
``supernet_panel_seeds23.csv``: 20 ``tnd`` cells from normal cells without a convolution to
normal cells of convolutions only, each trained from scratch four times on a Fashion-MNIST
subset (training seeds 0, 1 and 2, 3; rebuilt by ``python benchmarks/supernet_panel.py`` and
``python benchmarks/supernet_panel.py --seeds 2,3 --out
benchmarks/data/supernet_panel_seeds23.csv``, 40 and 55 min on 2 cores; the second was
written to another folder and copied, as its header's command shows; the panel's docstring
gives the recipe; ``data/supernet_panel_params.csv`` is the earlier panel of
uniform draws at one seed, whose ground truth does not reproduce itself). This script trains
one supernet of the same macro (every ``tnd`` op built, C and cells of the recipe) the way
``nasgym/Cell-v0`` trains stage 0: SGD (momentum 0.9, weight decay 3e-4, lr 0.05, clipping 5)
on single paths, batch 64, BatchNorm with batch statistics, here with uniformly sampled paths
(``path_sampling="uniform"``: the supernet independent of any agent). At each training budget
of ``--checkpoints`` (training batches; each stage of a default Cell-v0 search trains its
fresh supernet 600 warm-up + 20 steps x 2 batches and scores each path after 20 tuning
batches, ``--finetune 20``; 10 warm-up and no tuning before this curve chose them)
it scores every panel cell with the inherited weights on the same first ``--eval-images``
validation images, and prints Kendall tau and Spearman rho (scipy, with p-values) between
those accuracies and the panel's from-scratch test accuracies, the mean supernet accuracy of
the panel and the wall time so far. References come first: the ground truth's own
reliability (tau between two training seeds, and with 4 seeds between the means of two
halves), and the tau of the parameter count, a ranking that needs no training. Ends with one
JSON line: each checkpoint with every cell's supernet accuracy, ``acc``, and mean validation
cross-entropy, ``loss`` (``tau loss`` ranks the cells by it, lowest first, from the same forward
passes), the ``device`` and the ``platform`` (torch, its CPU kernel set, the CPU). The kernel
set decides the run: seed 0 at 600 batches gives tau 0.037 / 0.242 (untuned / 20 tuning
batches) on AVX2 kernels, 0.021 / 0.058 on AVX512 ones; ``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2`` reproduces an AVX2 run on an AVX512 CPU. Each checkpoint before
the last prints the same line so far, marked ``"partial": true``, so a run stopped early (a
time limit, ``kill -9``) keeps the points it reached.

Knobs: ``--sampling fair`` trains FairNAS-style paths (every op of a decision in turn, in a fresh
random order each cycle: :func:`nasgym.supernet.fair_paths`) instead of uniform ones; ``--bn
running`` evaluates with BatchNorm running statistics instead of the batch's; ``--lr`` the SGD
rate; ``--ema D`` scores with an exponential moving average of the weights (decay ``D`` a
batch) instead of the last weights; ``--finetune K1,K2,...`` scores each cell, at every
checkpoint, after K more SGD steps on its own path (the first K of one fixed list of training
batches, the same for every cell; generator seed 10000 + ``--seed``), then restores the shared
weights and the optimiser's momentum (:meth:`StageTrainer.tuned`, what Cell-v0's
``tune_batches`` does), one curve point per K (0 = inherited weights as they are); ``--seed``
the supernet's weights and paths; ``--device cuda`` trains and scores on a GPU (the data set
moves there too; its points are labelled apart, since other kernels make other samples). Two
seeds of one setting can differ by 0.5 in tau (README, *Benchmarks*): compare settings over
several seeds.

Ground truth: the ``--panel`` files (default: both above) must hold the same cells and recipe;
their training seeds are averaged into one ground truth. With 4 or more seeds the script also
prints the split-half reliability, the tau between the means of two halves of the seeds: how
well one such mean ranks the cells as another would, a yardstick for the tau of a supernet
against it. ``--rescore --from LOG...`` trains nothing: it recomputes tau and rho of every
point of finished runs from the per-cell accuracies their JSON lines stored, against the
``--panel`` ground truth, and prints the mean tau per setting and budget; with ``--ensemble
2,4,8`` also the tau of 2, 4 and 8 supernets' scores averaged (the mean over every such subset
of a setting's runs, :func:`ensemble_taus`): whether the shortfall is one supernet's noise,
which averaging removes, or a bias every supernet shares. ``--plot PNG --from LOG...`` draws
those rescored taus against the budget, with the references.
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

from nasgym._provenance import compute_platform  # noqa: E402
from nasgym.spaces import get_space  # noqa: E402

#: the default ground truth: training seeds 0, 1 and 2, 3 of the same panel, averaged
DEFAULT_PANELS = [DEFAULT_OUT, DEFAULT_OUT.with_name("supernet_panel_seeds23.csv")]
from nasgym.supernet.trainer import StageTrainer, fair_paths, uniform_path  # noqa: E402


def read_panel(path: Path) -> tuple[dict, list[dict]]:
    """The recipe header and the rows of a ground-truth CSV."""
    with path.open() as fh:
        header = json.loads(fh.readline().lstrip("# "))
        rows = list(csv.DictReader(fh))
    return header, rows


def read_panels(paths: list[Path]) -> tuple[dict, list[dict]]:
    """One ground truth from several CSVs of the same cells and recipe, trained with other seeds
    (``supernet_panel.py --seeds 2,3 --out OTHER.csv``): ``test_acc`` is the mean over every
    seed of every file, ``test_acc_by_seed`` all their accuracies in file order. Files of other
    cells, another cell order or another recipe are refused, naming the file."""
    header, rows = read_panel(paths[0])
    rows = [dict(r) for r in rows]
    for path in paths[1:]:
        other_header, other = read_panel(path)
        if other_header.get("recipe") != header.get("recipe"):
            raise SystemExit(f"{path}: another recipe than {paths[0]}; panels cannot be merged")
        if [r["arch"] for r in other] != [r["arch"] for r in rows]:
            raise SystemExit(f"{path}: other cells (or order) than {paths[0]}; cannot be merged")
        for row, extra in zip(rows, other, strict=True):
            row["test_acc_by_seed"] += " " + extra["test_acc_by_seed"]
    for row in rows:
        row["test_acc"] = str(np.mean([float(v) for v in row["test_acc_by_seed"].split()]))
    return header, rows


def read_run(log: Path) -> dict:
    """The last JSON line of a run's log (its curve, settings and references): the final one of
    a finished run, else the progress line of its last checkpoint (``"partial": true``)."""
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"{log}: no JSON result line (did the run finish?)")
    return json.loads(lines[-1])


def plot_curves(
    points: list[dict],
    refs: dict[str, float],
    cells: int,
    out: Path,
    seconds_per_batch: float | None = None,
) -> None:
    """Tau against training batches from :func:`rescore`'s points: one thin line per seed (runs
    of one seed and setting merged; settings scored on different numbers of images apart), a
    thick mean per setting, and a horizontal line per reference (``refs``: label -> tau).
    ``seconds_per_batch`` adds the minutes of training under each budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    several_sizes = len({pt["eval_images"] for pt in points}) > 1
    curves: dict[tuple[str, int], dict[int, float]] = {}
    for pt in points:
        label = pt["setting"] + (f", {pt['eval_images']} images" if several_sizes else "")
        curves.setdefault((label, int(pt["seed"])), {})[pt["batches"]] = pt["tau"]
    fig, ax = plt.subplots(figsize=(10.5, 4.8))
    colours = {label: f"C{k}" for k, label in enumerate(sorted({lab for lab, _ in curves}))}
    for (label, _seed), pts in sorted(curves.items()):
        xs = sorted(pts)
        ax.plot(xs, [pts[x_] for x_ in xs], color=colours[label], marker="o", ms=3, alpha=0.3, lw=1)
    for label, colour in colours.items():
        by_budget: dict[int, list[float]] = {}
        for (lab, _seed), pts in curves.items():
            if lab == label:
                for x_, t in pts.items():
                    by_budget.setdefault(x_, []).append(t)
        xs = sorted(by_budget)
        ns = sorted({len(v) for v in by_budget.values()})
        n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
        ax.plot(xs, [np.mean(by_budget[x_]) for x_ in xs], color=colour, lw=2.5, marker="o",
                label=f"{label}: mean of {n} supernet seeds")  # fmt: skip
    for (label, tau), style in zip(refs.items(), ("--", ":", "-.", (0, (1, 3))), strict=False):
        ax.axhline(
            tau, color="black" if style != "-." else "dimgrey", ls=style, lw=1.2, label=label
        )
    ax.axhline(0.0, color="grey", lw=0.5)
    budgets = sorted({x_ for pts in curves.values() for x_ in pts})
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [
        f"{b}\n{b * seconds_per_batch / 60:.1f} min" if seconds_per_batch else str(b) for b in budgets
    ])  # fmt: skip
    ax.minorticks_off()
    ax.set_xlabel("supernet training batches" + (
        "; minutes of training (one thread)" if seconds_per_batch else ""))  # fmt: skip
    ax.set_ylabel("Kendall tau vs from-scratch accuracy")
    ax.set_ylim(-0.45, 0.95)
    ax.set_title(f"Does the supernet rank the {cells}-cell panel? (thin: one seed each)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def device_name(device: torch.device) -> str:
    """``cpu``, or ``cuda (GPU NAME)``: runs on other devices are other samples (other
    kernels), so their points are kept apart."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def setting_label(run: dict) -> str:
    """How a run trained and scored its supernet, in words (runs of older logs lack some keys)."""
    parts = [f"{run.get('sampling', 'uniform')} paths"]
    if run.get("finetune"):
        parts.append(f"{run['finetune']} tuning batches")
    if run.get("ema"):
        parts.append(f"EMA {run['ema']}")
    if run.get("bn", "batch") != "batch":
        parts.append(f"BN {run['bn']}")
    if run.get("lr", 0.05) != 0.05:
        parts.append(f"lr {run['lr']}")
    if run.get("device", "cpu") != "cpu":
        parts.append(f"on {run['device'].split(' (')[0]}")
    return ", ".join(parts)


def ground_truth_reliability(rows: list[dict]) -> float | None:
    """Kendall tau between the panel's test accuracies of two training seeds (None: one seed).

    How far one from-scratch training reproduces the order of another: a supernet cannot be
    expected to agree with the ground truth better than the ground truth agrees with itself.
    """
    if not rows or len(rows[0].get("test_acc_by_seed", "").split()) < 2:
        return None
    runs = np.array([[float(v) for v in r["test_acc_by_seed"].split()[:2]] for r in rows])
    return float(stats.kendalltau(runs[:, 0], runs[:, 1])[0])


def split_half_reliability(rows: list[dict]) -> float | None:
    """Kendall tau between the mean of the first half of the training seeds and the mean of the
    second half (None below 4 seeds): how far a ground truth averaged over half the seeds
    reproduces itself, a yardstick for a ranking scored against such a mean."""
    runs = np.array([[float(v) for v in r["test_acc_by_seed"].split()] for r in rows])
    if runs.ndim != 2 or runs.shape[1] < 4:
        return None
    half = runs.shape[1] // 2
    return float(stats.kendalltau(runs[:, :half].mean(1), runs[:, half : 2 * half].mean(1))[0])


def agreement(acc, truth) -> tuple[float, float, float, float]:
    """Kendall tau, its p-value, Spearman rho and its p-value between supernet accuracies and
    the ground truth (scipy)."""
    tau, p_tau = stats.kendalltau(acc, truth)
    rho, p_rho = stats.spearmanr(acc, truth)
    return float(tau), float(p_tau), float(rho), float(p_rho)


def partial_tau(acc, truth, params) -> tuple[float | None, float | None]:
    """How much of a supernet's ranking the parameter count does not already give: Kendall tau
    between the supernet's accuracies ``acc`` and ``params``, and Kendall's partial tau of
    ``acc`` and ``truth`` given ``params``, ``(t_at - t_ap t_tp) / sqrt((1 - t_ap^2)(1 -
    t_tp^2))`` (Kendall 1942). ``(None, None)`` where a tau is undefined (constant params)."""
    t_at = stats.kendalltau(acc, truth)[0]
    t_ap = stats.kendalltau(acc, params)[0]
    t_tp = stats.kendalltau(truth, params)[0]
    if not np.isfinite([t_at, t_ap, t_tp]).all() or max(abs(t_ap), abs(t_tp)) >= 1.0:
        return (None, None) if not np.isfinite(t_ap) else (round(float(t_ap), 3), None)
    part = (t_at - t_ap * t_tp) / np.sqrt((1.0 - t_ap**2) * (1.0 - t_tp**2))
    return round(float(t_ap), 3), round(float(part), 3)


def rescore(logs: list[Path], rows: list[dict]) -> list[dict]:
    """Tau and rho of every point of finished run logs against the ground truth ``rows``,
    from the per-cell supernet accuracies the logs stored: no supernet is retrained. Also the
    tau of the accuracies with the cells' parameter counts and the partial tau given them
    (:func:`partial_tau`)."""
    truth = np.array([float(r["test_acc"]) for r in rows])
    params = np.array([float(r["params"]) for r in rows])
    points = []
    for log in logs:
        run = read_run(log)
        if run["cells"] != len(rows):
            raise SystemExit(f"{log}: {run['cells']} cells, the panel has {len(rows)}")
        for pt in run["curve"]:
            if "acc" not in pt:
                raise SystemExit(f"{log}: no per-cell accuracies stored (an older run); rerun it")
            tau, p_tau, rho, p_rho = agreement(pt["acc"], truth)
            tau_params, tau_partial = partial_tau(pt["acc"], truth, params)
            tuned = pt.get("finetune", run.get("finetune") or 0)
            points.append({
                "log": str(log), "seed": run["seed"], "batches": pt["batches"],
                "eval_images": run.get("eval_images"), "platform": run.get("platform"),
                "setting": setting_label({**run, "finetune": tuned}),
                "tau": round(float(tau), 3), "tau_p": float(p_tau),
                "rho": round(float(rho), 3), "rho_p": float(p_rho),
                "tau_loss": (round(agreement(-np.asarray(pt["loss"]), truth)[0], 3)
                             if "loss" in pt else None),
                "tau_params": tau_params, "tau_partial": tau_partial,
            })  # fmt: skip
    return points


def ensemble_taus(logs: list[Path], rows: list[dict], sizes: list[int]) -> list[dict]:
    """Several supernets' scores averaged, from finished run logs: for each setting, number of
    scoring images and budget, and each ``K`` in ``sizes`` up to its number of runs, the mean
    tau over every K-subset of its runs of the cells' mean accuracy (and of their mean loss,
    where every run stored one) against the ground truth ``rows``. K = 1 is the runs' mean tau.
    Run it after :func:`rescore`, which checks the logs."""
    import itertools

    truth = np.array([float(r["test_acc"]) for r in rows])
    groups: dict[tuple[str, int, int], list[tuple[np.ndarray, np.ndarray | None]]] = {}
    for log in logs:
        run = read_run(log)
        for pt in run["curve"]:
            tuned = pt.get("finetune", run.get("finetune") or 0)
            key = (setting_label({**run, "finetune": tuned}), run.get("eval_images") or 0,
                   pt["batches"])  # fmt: skip
            loss = np.asarray(pt["loss"], dtype=np.float64) if "loss" in pt else None
            groups.setdefault(key, []).append((np.asarray(pt["acc"], dtype=np.float64), loss))
    out = []
    for (setting, images, batches), runs in sorted(groups.items()):
        for k in sorted(set(sizes)):
            if k > len(runs):
                continue
            subsets = list(itertools.combinations(runs, k))
            taus = [agreement(sum(a for a, _ in sub), truth)[0] for sub in subsets]
            with_loss = [sub for sub in subsets if all(lo is not None for _, lo in sub)]
            by_loss = [agreement(-sum(lo for _, lo in sub), truth)[0] for sub in with_loss]
            out.append({
                "setting": setting, "eval_images": images, "batches": batches, "supernets": k,
                "subsets": len(subsets), "runs": len(runs), "tau": round(float(np.mean(taus)), 3),
                "tau_loss": round(float(np.mean(by_loss)), 3) if by_loss else None,
            })  # fmt: skip
    return out


@torch.no_grad()
def score(
    trainer: StageTrainer, ops: tuple[str, ...], x: torch.Tensor, y: torch.Tensor
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of path ``ops`` with the supernet's weights on the fixed
    images ``x``."""
    trainer.model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(y), 256):
        logits = trainer.model(x[i : i + 256], ops)
        correct += int((logits.argmax(1) == y[i : i + 256]).sum())
        loss += float(torch.nn.functional.cross_entropy(logits, y[i : i + 256], reduction="sum"))
    return correct / len(y), loss / len(y)


def finetune_batches(data, n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` fixed training batches of 64 (drawn from ``seed``), the same for every cell."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    idx = [torch.randperm(len(data.train.y), generator=gen)[:64] for _ in range(n)]
    return [(data.train.x[i], data.train.y[i]) for i in idx]


def finetuned_score(
    trainer: StageTrainer,
    ops: tuple[str, ...],
    x: torch.Tensor,
    y: torch.Tensor,
    tune: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[float, float]:
    """:func:`score` after one SGD step on each of ``tune`` along path ``ops`` (as Cell-v0's
    ``tune_batches`` scores the agent's path); the supernet's weights and optimiser state are
    put back afterwards, so every cell starts from the same shared weights."""
    with trainer.tuned(ops, tune):
        return score(trainer, ops, x, y)


def main(argv: list[str] | None = None) -> dict:
    """Train the supernet, rank the panel at each checkpoint, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--panel", type=Path, nargs="+", default=DEFAULT_PANELS,
        help="ground-truth CSV; several of the same cells trained with other seeds are averaged",
    )  # fmt: skip
    parser.add_argument("--checkpoints", default="150,300,600", help="training batches")
    parser.add_argument("--eval-images", type=int, default=512, help="validation images per cell")
    parser.add_argument("--seed", type=int, default=0, help="supernet weights and path seed")
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="folder of the data sets")
    parser.add_argument(
        "--device", default="cpu",
        help="torch device of the supernet and the data: cpu (default), cuda, auto (CUDA if any)",
    )  # fmt: skip
    parser.add_argument(
        "--sampling", choices=("uniform", "fair"), default="uniform",
        help="paths: uniform per decision, or each op in turn (FairNAS's strict fairness)",
    )  # fmt: skip
    parser.add_argument(
        "--bn", choices=("batch", "running"), default="batch",
        help="BatchNorm statistics in evaluation: the batch's (the search default) or running",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    parser.add_argument(
        "--ema", type=float, default=0.0,
        help="score with an exponential moving average of the weights, this decay a batch (0: off)",
    )  # fmt: skip
    parser.add_argument(
        "--finetune", default="0",
        help="score each cell after this many SGD batches on its own path (weights restored "
        "after); a comma list scores the same supernet once per count",
    )  # fmt: skip
    parser.add_argument(
        "--plot", type=Path, default=None,
        help="instead of training: plot tau against budget from the logs of --from to this PNG",
    )  # fmt: skip
    parser.add_argument(
        "--rescore", action="store_true",
        help="instead of training: tau of the --from logs' stored accuracies against --panel",
    )  # fmt: skip
    parser.add_argument("--from", dest="logs", type=Path, nargs="+", default=[], help="run logs")
    parser.add_argument(
        "--ensemble", default="",
        help="with --rescore: also the tau of K supernets' scores averaged, for each K of this "
        "comma list (every K-subset of a setting's runs)",
    )  # fmt: skip
    parser.add_argument(
        "--seconds-per-batch", type=float, default=None, help="for the plot's minutes axis"
    )  # fmt: skip
    args = parser.parse_args(argv)
    if (args.plot is not None or args.rescore) and not args.logs:
        raise SystemExit("--plot and --rescore need the logs of finished runs (--from LOG ...)")
    header, rows = read_panels(args.panel)
    ceiling, split_half = ground_truth_reliability(rows), split_half_reliability(rows)
    seeds = len(rows[0]["test_acc_by_seed"].split())
    print(
        f"ground truth: {len(rows)} cells, mean of {seeds} training seeds ({len(args.panel)} files)"
    )
    if ceiling is not None:
        print(f"ground truth's own reliability: tau {ceiling:.3f} between two training seeds")
    if split_half is not None:
        print(f"mean of half the seeds against the mean of the other half: tau {split_half:.3f}")
    truth = np.array([float(r["test_acc"]) for r in rows])
    params = np.array([float(r["params"]) for r in rows])
    params_tau = float(stats.kendalltau(params, truth)[0])
    print(f"parameter count as the ranking (no training at all): tau {params_tau:.3f}")
    if args.plot is not None:
        refs = {"target 0.5": 0.5}
        if split_half is not None:
            refs[f"ground truth: mean of {seeds // 2} training seeds vs the other {seeds // 2}"] = (
                split_half
            )
        elif ceiling is not None:
            refs["ground truth: one training seed vs another"] = ceiling
        refs["parameter count (no training)"] = params_tau
        plot_curves(rescore(args.logs, rows), refs, len(rows), args.plot, args.seconds_per_batch)
        print(f"wrote {args.plot}")
        return {"plot": str(args.plot)}
    if args.rescore:
        points = rescore(args.logs, rows)
        print(f"{'setting':<40} {'seed':>4} {'batches':>8} {'tau':>6} {'p':>8} {'rho':>6} {'p':>8}")
        for pt in points:
            print(
                f"{pt['setting']:<40} {pt['seed']:>4} {pt['batches']:>8} {pt['tau']:>6.3f} "
                f"{pt['tau_p']:>8.2g} {pt['rho']:>6.3f} {pt['rho_p']:>8.2g}"
            )
        means: dict[tuple[str, int, int], list[dict]] = {}
        for pt in points:
            key = (pt["setting"], pt["eval_images"] or 0, pt["batches"])
            means.setdefault(key, []).append(pt)
        for (setting, images, batches), pts in sorted(means.items()):
            by_loss = [pt["tau_loss"] for pt in pts if pt["tau_loss"] is not None]
            partial = [pt for pt in pts if pt["tau_partial"] is not None]
            print(
                f"mean tau {np.mean([pt['tau'] for pt in pts]):.3f} over {len(pts)} seeds"
                + (f" (by loss {np.mean(by_loss):.3f} over {len(by_loss)})" if by_loss else "")
                + f": {setting}, {images} scoring images, {batches} batches"
                + (
                    f"; with the parameter count {np.mean([p['tau_params'] for p in partial]):.3f},"
                    f" partial tau given it {np.mean([p['tau_partial'] for p in partial]):.3f}"
                    if partial
                    else ""
                )
            )
        try:
            sizes = [int(k) for k in args.ensemble.split(",") if k.strip()]
        except ValueError:
            raise SystemExit(f"--ensemble must be supernet counts, got {args.ensemble!r}") from None
        if any(k < 1 for k in sizes):
            raise SystemExit(f"--ensemble must be counts >= 1, got {args.ensemble!r}")
        ensembles = ensemble_taus(args.logs, rows, sizes) if sizes else []
        for e in ensembles:
            print(
                f"{e['supernets']} supernets averaged: mean tau {e['tau']:.3f}"
                + (f" (by loss {e['tau_loss']:.3f})" if e["tau_loss"] is not None else "")
                + f" over {e['subsets']} subsets of {e['runs']} runs: {e['setting']}, "
                f"{e['eval_images']} scoring images, {e['batches']} batches"
            )
        out = {
            "panel": [str(p) for p in args.panel], "truth_seeds": seeds, "ensembles": ensembles,
            "truth_seed_tau": None if ceiling is None else round(ceiling, 3),
            "truth_split_half_tau": None if split_half is None else round(split_half, 3),
            "points": points,
        }  # fmt: skip
        print(json.dumps(out))
        return out
    try:
        tunes = sorted({int(k) for k in args.finetune.split(",")})
    except ValueError:
        raise SystemExit(f"--finetune must be batch counts, got {args.finetune!r}") from None
    if tunes[0] < 0:
        raise SystemExit(f"--finetune must be >= 0 batches, got {args.finetune!r}")
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    if not checkpoints or checkpoints[0] < 1:
        raise SystemExit(f"--checkpoints must be positive batch counts, got {args.checkpoints!r}")
    torch.set_num_threads(1)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch sees no CUDA device here")
    recipe = header["recipe"]
    if recipe != RECIPE:
        print(f"note: the panel was built with {recipe}, this script's recipe is {RECIPE}")
    space = get_space(recipe["space"])
    data = load_panel_data(args.data_dir, recipe, device)
    archs = [space.from_str(r["arch"]) for r in rows]
    x, y = data.val.x[: args.eval_images], data.val.y[: args.eval_images]
    allowed = [space.decision_ops(d) for d in range(space.n_decisions)]
    start = time.perf_counter()
    trainer = StageTrainer(
        space, data, allowed, n_cells=recipe["n_cells"], channels=recipe["channels"],
        batch_size=64, val_batch_size=256, lr=args.lr,
        generator=torch.Generator().manual_seed(args.seed), device=device,
        batch_stats=args.bn == "batch",
    )  # fmt: skip
    rng = np.random.default_rng(args.seed)
    if args.sampling == "fair":
        paths = fair_paths(trainer.allowed, rng, checkpoints[-1])
    else:
        paths = [uniform_path(trainer.allowed, rng) for _ in range(checkpoints[-1])]
    tune = finetune_batches(data, tunes[-1], args.seed)  # each count tunes on the first k
    curve, done = [], 0
    out = {
        "panel": str(args.panel[0]) if len(args.panel) == 1 else [str(p) for p in args.panel],
        "cells": len(rows),
        "truth_seeds": seeds,
        "truth_seed_tau": None if ceiling is None else round(ceiling, 3),
        "truth_split_half_tau": None if split_half is None else round(split_half, 3),
        "params_tau": round(params_tau, 3),
        "eval_images": args.eval_images,
        "seed": args.seed,
        "sampling": args.sampling,
        "bn": args.bn,
        "lr": args.lr,
        "ema": args.ema,
        "finetune": tunes,
        "device": device_name(device),
        "platform": compute_platform(),
        "curve": curve,
    }
    weights = [w.data for w in trainer.model.parameters()]
    ema = [w.clone() for w in weights] if args.ema > 0 else None
    print(f"panel: {len(rows)} cells, from-scratch test acc {truth.min():.3f}-{truth.max():.3f}")
    print(
        f"{'batches':>8} {'tune':>5} {'tau':>6} {'p':>8} {'rho':>6} {'p':>8} {'tau loss':>9} {'mean acc':>9} {'train s':>8} {'wall s':>7}"
    )
    train_s = 0.0
    for c in checkpoints:
        t0 = time.perf_counter()
        for path in paths[done:c]:
            trainer.train([path])
            if ema is not None:
                for e, w in zip(ema, weights, strict=True):
                    e.lerp_(w, 1.0 - args.ema)
        train_s += time.perf_counter() - t0
        done = c
        if ema is not None:  # score the averaged weights, then train on from the last ones
            last = [w.clone() for w in weights]
            for w, e in zip(weights, ema, strict=True):
                w.copy_(e)
        scored = {k: np.array([finetuned_score(trainer, a.ops, x, y, tune[:k]) for a in archs])
                  for k in tunes}  # fmt: skip
        if ema is not None:
            for w, v in zip(weights, last, strict=True):
                w.copy_(v)
        for k, (acc, loss) in ((k, v.T) for k, v in scored.items()):
            tau, p_tau, rho, p_rho = agreement(acc, truth)
            tau_loss = agreement(-loss, truth)[0]
            wall = time.perf_counter() - start
            point = {
                "batches": c, "finetune": k, "tau": round(float(tau), 3), "tau_p": float(p_tau),
                "rho": round(float(rho), 3), "rho_p": float(p_rho),
                "mean_supernet_acc": round(float(acc.mean()), 4),
                "train_s": round(train_s, 1), "wall_s": round(wall, 1),
                "tau_loss": round(float(tau_loss), 3),
                "acc": [round(float(a), 4) for a in acc],
                "loss": [round(float(v), 6) for v in loss],  # 4 places can tie two cells
            }  # fmt: skip
            curve.append(point)
            print(
                f"{c:>8} {k:>5} {tau:>6.3f} {p_tau:>8.2g} {rho:>6.3f} {p_rho:>8.2g} {tau_loss:>9.3f} {acc.mean():>9.3f} {train_s:>8.0f} {wall:>7.0f}",
                flush=True,
            )
        if c != checkpoints[-1]:  # a run stopped later keeps its points (read by --rescore)
            print(json.dumps({**out, "partial": True}), flush=True)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
