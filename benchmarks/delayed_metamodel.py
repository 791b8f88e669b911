"""Does a metamodel fitted on the delayed effect pick better edits than the one-step one?

From ``nasgym characterize --horizon H`` records, two metamodels go through the same grouped
cross-validation (folds by model seed, so each held-out model is one neither saw): one fitted
on the improvement over the control right after the step (``improve``, the shipped target),
one on the improvement H steps later (``improve@H``). Both are scored on ``improve@H``, what
an edit is still worth once the control and the candidate have trained on. Per held-out model,
the application each metamodel ranks best is paired with the other's:

- the mean over outputs of the pick's ``improve@H`` (its *improvement*) and of its positive
  part (its *upside*, what a candidate can add to an episode's archive), each against a random
  pick (the mean over the model's applications);
- the paired Wilcoxon test, delayed against one-step, with the matched-pairs rank-biserial
  effect (> 0: the delayed metamodel's picks are better).

    python benchmarks/delayed_metamodel.py docs/characterize/mnist-h3 docs/characterize/mnist-h3-more

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from delayed_effect import horizons  # noqa: E402

from nasgym.stats import paired_wilcoxon  # noqa: E402
from nasgym.training.metamodel import cross_validate, read_records  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    """Cross-validate both metamodels; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", help="characterize folders or records files")
    parser.add_argument("--horizon", type=int, default=None, help="H (default: the largest)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    records = read_records(args.data)
    have = horizons(records)
    h = (have or [None])[-1] if args.horizon is None else args.horizon
    if h not in have:
        raise SystemExit(
            f"no improve@{h} columns (the records have horizons {have}): run nasgym "
            "characterize --horizon H"
        )
    later = f"improve@{h}"
    cv = {
        fit: cross_validate(records, args.folds, fit, later, per_model=True, seed=args.seed)
        for fit in ("improve", later)
    }
    now, delayed = cv["improve"]["per_model"], cv[later]["per_model"]
    assert now["seed"] == delayed["seed"]
    result: dict = {"horizon": h, "models": len(now["seed"]), "rows": cv[later]["rows"]}
    print(
        f"{result['rows']} network applications of {result['models']} models; both metamodels "
        f"scored on {later} ({args.folds}-fold CV grouped by model)"
    )
    for key, label in (("pick", "improvement"), ("pick_upside", "upside")):
        rand = "random" if key == "pick" else "random_upside"
        a, b = np.array(delayed[key]), np.array(now[key])
        test = paired_wilcoxon(a, b)
        result[label] = dict(
            one_step=float(b.mean()),
            delayed=float(a.mean()),
            random=float(np.mean(now[rand])),
            delayed_better_models=int(np.sum(a > b)),
            effect_r=test["effect"],
            p=test["p"],
        )
        row = result[label]
        r = "-" if row["effect_r"] is None else f"{row['effect_r']:+.2f}"  # None: all tied
        p = "-" if row["p"] is None else f"{row['p']:.3g}"
        print(
            f"  {label:12s} one-step pick {row['one_step']:+.4f}  delayed pick "
            f"{row['delayed']:+.4f}  random pick {row['random']:+.4f}  delayed better on "
            f"{row['delayed_better_models']}/{result['models']} models, r = {r}, p = {p}"
        )
    result["spearman"] = {
        "one_step": cv["improve"]["spearman"],
        "delayed": cv[later]["spearman"],
    }
    print(
        "  Spearman rho of the predictions with "
        + later
        + ": "
        + "; ".join(
            f"{o} {cv['improve']['spearman'][o]:+.2f} / {cv[later]['spearman'][o]:+.2f}"
            for o in cv[later]["spearman"]
        )
        + " (one-step / delayed)"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
