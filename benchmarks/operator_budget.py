"""Does an operator pay off more with a larger training budget? Characterize studies side by side.

The paper trains 5,000 batches before the search and 1,000 after each operator; the held-out
results in the README use 250 / 50. This script reads ``nasgym characterize`` studies of the same
model seeds at several budgets and prints, per budget: the applications, the share that beat the
control on most outputs, the mean and median improvement over the control
(``log(control / candidate)``, mean over outputs), per variant, and per model the best
application (what an agent that knew the best move would gain). Per-model figures of each study
are compared with the first study's by paired Wilcoxon tests over the seeds they share, and each
variant's improvement over the applications both studies made (same seed, application number,
variant and target). It also compares studies of one budget that differ by an option, e.g.
``--detach-gentle``.

    NASGYM_DATA_DIR=../shared/data nasgym characterize --dataset mnist --models 12 \\
        --first-seed 2000 --per-model 12 --workers 2 --initial-batches 250 --step-batches 50 \\
        --out runs/characterize-mnist-250-50
    (the same with 1000 / 200 and 2500 / 500, --out runs/characterize-mnist-1000-200, -2500-500)
    python benchmarks/operator_budget.py runs/characterize-mnist-250-50 \\
        runs/characterize-mnist-1000-200 runs/characterize-mnist-2500-500

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.stats import paired_wilcoxon  # noqa: E402
from nasgym.training.metamodel import read_records  # noqa: E402


def per_model(rows) -> dict[str, dict[int, float]]:
    """Per model seed: the best and the mean improvement, and the share beating the control."""
    groups = rows.groupby("seed")
    return {
        "best": groups["improve"].max().to_dict(),
        "mean": groups["improve"].mean().to_dict(),
        "beats": groups["beats_control"].mean().to_dict(),
    }


def main(argv: list[str] | None = None) -> dict:
    """Read the studies, print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", help="characterize output folders")
    args = parser.parse_args(argv)
    budgets: dict[str, dict] = {}
    models: dict[str, dict] = {}
    frames: dict[str, object] = {}
    for study in args.studies:
        rows = read_records([study])
        rows = rows[rows["target_type"] == "network"]
        budget = rows[["initial_batches", "step_batches"]].drop_duplicates()
        if len(budget) != 1:
            raise SystemExit(
                f"{study}: one budget per study expected, got {budget.values.tolist()}"
            )
        label = "{}/{}".format(*budget.values[0])
        if label in budgets:  # two studies at one budget: tell them apart by folder
            label = f"{label} {Path(study).name}"
        by_variant = rows.groupby("variant_name")["improve"].agg(["mean", "median", "count"])
        models[label] = per_model(rows)
        frames[label] = rows
        budgets[label] = {
            "study": study,
            "models": int(rows["seed"].nunique()),
            "applications": len(rows),
            "beats_control": float(rows["beats_control"].mean()),
            "improve_mean": float(rows["improve"].mean()),
            "improve_median": float(rows["improve"].median()),
            "best_per_model": float(np.mean(list(models[label]["best"].values()))),
            "variants": {v: {k: float(x) for k, x in r.items()} for v, r in by_variant.iterrows()},
        }
    print(
        f"{'budget':>10} {'models':>6} {'apps':>5} {'beat ctrl':>9} {'mean':>7} {'median':>7} {'best/model':>10}"
    )
    for label, b in budgets.items():
        print(
            f"{label:>10} {b['models']:>6} {b['applications']:>5} {b['beats_control']:>9.2f} "
            f"{b['improve_mean']:>+7.3f} {b['improve_median']:>+7.3f} {b['best_per_model']:>+10.3f}"
        )
    variants = sorted({v for b in budgets.values() for v in b["variants"]})
    print("mean (median) improvement over the control per variant:")
    print(f"{'variant':>26} " + " ".join(f"{label:>17}" for label in budgets))
    for v in variants:
        cells = []
        for b in budgets.values():
            r = b["variants"].get(v)
            cells.append(f"{r['mean']:+.3f} ({r['median']:+.3f})" if r else "-")
        print(f"{v:>26} " + " ".join(f"{c:>17}" for c in cells))
    labels = list(budgets)
    tests = {}
    for a, b in [(labels[0], b) for b in labels[1:]]:  # each study against the first
        for metric in ("best", "mean", "beats"):
            seeds = sorted(set(models[a][metric]) & set(models[b][metric]))
            if len(seeds) < 2:
                continue
            t = paired_wilcoxon(
                np.array([models[b][metric][s] for s in seeds]),
                np.array([models[a][metric][s] for s in seeds]),
            )
            tests[f"{metric}: {b} vs {a}"] = t
            print(
                f"  per-model {metric}, {b} vs {a} ({len(seeds)} paired seeds): median diff "
                f"{t['median_diff']:+.3f}, r {t['effect']:+.2f}, p {t['p']:.2g}"
            )
    for a, b in [(labels[0], b) for b in labels[1:]]:  # per variant, over shared applications
        key = ["seed", "app", "variant_name", "target"]
        both = frames[a][[*key, "improve"]].merge(frames[b][[*key, "improve"]], on=key)
        for v, pairs in both.groupby("variant_name"):
            if len(pairs) < 2 or (pairs["improve_x"] == pairs["improve_y"]).all():
                continue  # unchanged by the option (or too few): nothing to test
            t = paired_wilcoxon(pairs["improve_y"].to_numpy(), pairs["improve_x"].to_numpy())
            tests[f"variant {v}: {b} vs {a}"] = t
            print(
                f"  {v}, {b} vs {a} ({t['n']} shared applications): mean "
                f"{pairs['improve_x'].mean():+.3f} -> {pairs['improve_y'].mean():+.3f}, "
                f"r {t['effect']:+.2f}, p {t['p']:.2g}"
            )
    out = {"benchmark": "operator_budget", "budgets": budgets, "tests": tests}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
