"""Does the metamodel pick well on mid-episode states? The shipped one against a refit, on MNIST.

The shipped metamodel learned from freshly trained models (``nasgym characterize``). An agent
meets models mid-episode. This script takes characterize records of mid-episode states
(``--episode-steps K``) and, per mid-episode model, compares the measured improvement over the
control (mean over outputs) of the application picked by

- the shipped metamodel (it never saw these models);
- a metamodel refit on the fresh and the mid-episode records with the shipped defaults, scored
  by grouped 5-fold cross-validation (folds by model, so each model's picks come from a fit
  that never saw it);
- a random pick (the mean over the model's applications),

and, as headroom, the best application of each model (an oracle). Paired Wilcoxon tests over
the models. Everything is MNIST: no Fashion-MNIST record is read.

    NASGYM_DATA_DIR=../shared/data nasgym characterize --dataset mnist --models 16 \\
        --first-seed 1020 --per-model 12 --episode-steps 20 --workers 2 --out runs/characterize-mnist-ep20
    (the same with --first-seed 1040 --episode-steps 40 --out runs/characterize-mnist-ep40)
    python benchmarks/metamodel_states.py --fresh runs/characterize-mnist \\
        --episode runs/characterize-mnist-ep20 runs/characterize-mnist-ep40

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.stats import paired_wilcoxon  # noqa: E402
from nasgym.training.metamodel import _outputs, read_records  # noqa: E402
from policies import shipped_path  # noqa: E402
from policies.metamodel import Metamodel, record_features  # noqa: E402

#: the shipped metamodel's training settings (policies/metamodel_valp.json)
DEFAULTS = {"max_iter": 50, "learning_rate": 0.05, "min_samples_leaf": 40, "seed": 0}


def main(argv: list[str] | None = None) -> dict:
    """Compare the picks; print the figures and one JSON line."""
    from sklearn.model_selection import GroupKFold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", nargs="+", required=True, help="records of fresh models")
    parser.add_argument("--episode", nargs="+", required=True, help="records of mid-episode states")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    fresh, episode = read_records(args.fresh), read_records(args.episode)
    if not (episode.get("episode_step", pd.Series([0])) > 0).all():
        raise SystemExit("--episode records must come from characterize --episode-steps K > 0")
    records = pd.concat([fresh.assign(episode_step=0), episode], ignore_index=True)
    rows = records[records["target_type"] == "network"].reset_index(drop=True)
    outputs = _outputs(rows)
    variants = sorted(rows["variant_name"].unique())
    shipped = Metamodel.load(shipped_path("metamodel"))
    x, y = record_features(rows, variants, outputs)
    groups = rows["seed"].to_numpy()
    mid = rows["episode_step"].to_numpy() > 0
    refit = np.zeros_like(y)
    for train, test in GroupKFold(n_splits=args.folds).split(x, y, groups):
        refit[test] = (
            Metamodel(variants, outputs, **DEFAULTS).fit(x[train], y[train]).predict(x[test])
        )
    preds = {"shipped": shipped.predict(record_features(rows, shipped.variants, shipped.outputs)[0]),
             "refit": refit}  # fmt: skip
    picks: dict[str, list[float]] = {"shipped": [], "refit": [], "random": [], "oracle": []}
    chosen: dict[str, Counter] = {"shipped": Counter(), "refit": Counter()}
    names = rows["variant_name"].to_numpy()
    for seed in np.unique(groups[mid]):
        at = np.flatnonzero(groups == seed)
        gain = y[at].mean(axis=1)
        for name, pred in preds.items():
            best = at[np.argmax(pred[at].mean(axis=1))]
            picks[name].append(float(y[best].mean()))
            chosen[name][names[best]] += 1
        picks["random"].append(float(gain.mean()))
        picks["oracle"].append(float(gain.max()))
    arrays = {k: np.array(v) for k, v in picks.items()}
    tests = {
        "shipped_vs_random": paired_wilcoxon(arrays["shipped"], arrays["random"]),
        "refit_vs_random": paired_wilcoxon(arrays["refit"], arrays["random"]),
        "refit_vs_shipped": paired_wilcoxon(arrays["refit"], arrays["shipped"]),
    }
    print(
        f"{int(mid.sum())} applications on {len(arrays['random'])} mid-episode models "
        f"(episode steps {sorted(set(rows['episode_step'][mid]))}), {int((~mid).sum())} fresh"
    )
    print("improvement over the control of the pick (log ratio, mean over outputs and models):")
    for name, a in arrays.items():
        print(f"  {name:>8} {a.mean():+.4f}")
    for name, t in tests.items():
        print(
            f"  {name}: median diff {t['median_diff']:+.4f}, r {t['effect']:+.2f}, p {t['p']:.2g}"
        )
    for name, c in chosen.items():
        print(f"  {name} picks: {dict(c.most_common())}")
    out = {
        "benchmark": "metamodel_states",
        "models": len(arrays["random"]),
        "pick_improve": {k: float(a.mean()) for k, a in arrays.items()},
        "tests": tests,
        "picks": {k: dict(c) for k, c in chosen.items()},
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
