"""Can the diagnostics tell which move the hill climber will accept? MNIST records only.

On held-out Fashion-MNIST some agents whose candidates were accepted more often ended with more
hypervolume (the rules on seeds 60-79, the ``oracle``; not the rules on seeds 80-99), and the
metamodel, whose picks are safe, was accepted least. This script asks whether acceptance can be learned from the
diagnostics the agents see: on ``nasgym characterize`` records, an application is *accepted*
when it beats the control on more than half of the outputs (the paper preset's 2-of-3 rule).
By grouped cross-validation (folds by model seed, the metamodel's default settings, which the
shipped one was fitted with), it fits

- a classifier of acceptance (scikit-learn's ``HistGradientBoostingClassifier``), and
- the metamodel (one regressor per output's improvement, ranked by the mean over outputs),

and reports, on the models each fit never saw:

- ROC AUC over all rows, and *within a model* (the mean AUC over the models with both
  accepted and rejected applications: what ranking the moves of one state needs), against
  0.5 by a Wilcoxon test over models;
- per model, whether the application each ranks best was accepted, against the model's
  acceptance rate (a blind pick), paired Wilcoxon over models.

    python benchmarks/metamodel_acceptance.py --data runs/characterize-mnist

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
from nasgym.training.metamodel import _outputs, read_records  # noqa: E402
from policies.metamodel import Metamodel, record_features  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    """Cross-validate both rankings; print the figures and one JSON line."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="characterize records")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    records = read_records(args.data)
    rows = records[records["target_type"] == "network"].reset_index(drop=True)
    outputs = _outputs(rows)
    variants = sorted(rows["variant_name"].unique())
    x, y = record_features(rows, variants, outputs)
    accepted = (y > 0).sum(axis=1) > len(outputs) / 2
    groups = rows["seed"].to_numpy()
    # the classifier takes the metamodel's defaults (the shipped metamodel's settings)
    p = Metamodel(variants, outputs).params
    trees = {k: p[k] for k in ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf")}
    scores = {"classifier": np.zeros(len(y)), "metamodel": np.zeros(len(y))}
    for train, test in GroupKFold(n_splits=args.folds).split(x, y, groups):
        clf = HistGradientBoostingClassifier(**trees, random_state=p["seed"])
        scores["classifier"][test] = clf.fit(x[train], accepted[train]).predict_proba(x[test])[:, 1]
        model = Metamodel(variants, outputs).fit(x[train], y[train])
        scores["metamodel"][test] = model.predict(x[test]).mean(axis=1)
    models = [np.flatnonzero(groups == g) for g in np.unique(groups)]  # each model's rows
    blind = np.array([accepted[at].mean() for at in models])
    print(
        f"{len(y)} applications on {len(models)} models, accepted {accepted.mean():.1%} "
        f"(2-of-{len(outputs)} against the control)"
    )
    out: dict = {"benchmark": "metamodel_acceptance", "rows": len(y), "models": len(models)}
    out["accepted"] = float(accepted.mean())
    for name, score in scores.items():
        within = [
            roc_auc_score(accepted[at], score[at])
            for at in models
            if 0 < accepted[at].sum() < len(at)
        ]
        pick = np.array([accepted[at][np.argmax(score[at])] for at in models], dtype=float)
        auc_test = paired_wilcoxon(np.array(within), np.full(len(within), 0.5))
        pick_test = paired_wilcoxon(pick, blind)
        out[name] = {
            "auc": float(roc_auc_score(accepted, score)),
            "auc_within": float(np.mean(within)),
            "auc_within_models": len(within),
            "auc_within_p": auc_test["p"],
            "pick_accepted": float(pick.mean()),
            "blind_accepted": float(blind.mean()),
            "pick_p": pick_test["p"],
        }
        r = out[name]
        print(
            f"  {name:>10}: AUC {r['auc']:.3f} over all rows, {r['auc_within']:.3f} within a "
            f"model ({len(within)} models, p = {r['auc_within_p']:.2g} against 0.5); its pick "
            f"accepted {r['pick_accepted']:.1%} against {r['blind_accepted']:.1%} blind "
            f"(p = {r['pick_p']:.2g})"
        )
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
