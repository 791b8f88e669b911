"""Train the operator metamodel on ``nasgym characterize`` records: ``nasgym train metamodel``.

    nasgym characterize --dataset mnist --models 48 --per-model 12 --out runs/characterize-mnist
    nasgym train metamodel --data runs/characterize-mnist --out policies/metamodel_valp.skops

``--data`` takes characterize output folders (their ``records.csv``) or record files (CSV or
Parquet). Before the final fit on every row, a grouped cross-validation (``--folds`` folds,
grouped by model seed, so no model is in both a training and a test fold) measures what the
metamodel knows about models it never saw:

- per output, Spearman's rho between predicted and measured improvement;
- *pick*: per held-out model, the measured mean improvement of the application the metamodel
  ranks best against the mean over that model's applications (what a random pick gets),
  compared by a paired Wilcoxon test over models, and against the variant that is best on
  average in the training folds (a metamodel should beat that constant choice too);
- *upside*: the same for the mean over outputs of the improvement's positive part, what a
  candidate can add to an episode's archive of models (a candidate worse than the control is
  replaced by it, so its loss costs the archive little).

``--target improve@H`` fits the improvement over the control H steps after the edit (the
control and the candidate both trained on, records of ``nasgym characterize --horizon H``):
the edit's delayed effect, which a one-step target cannot see (an edit that pays now and leaves
a model that trains worse).

``--cv-target T`` scores the cross-validation on another target than the one fitted (e.g.
``--target improve --cv-target improve@3``: how well one-step predictions pick the edits that
still help three steps later), so metamodels fitted on different targets compare on one scale.

``--quantile Q`` fits each output's Q-quantile of the improvement instead of its mean (scikit-
learn's quantile loss): an optimistic metamodel, whose best-ranked moves are those with upside.

The figures, the exact command, the data files with their SHA-256, the code versions and
platforms that studied the models (from the characterize folder's ``results.jsonl``, where
present) and the wall time go into the metadata beside the model (``.json``) and are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasgym._provenance import provenance_counts
from nasgym.training import TRAINERS, Trainer


def records_file(src: str | Path) -> Path:
    """The records file of ``src``: the file itself, or a folder's ``records.csv`` (or the
    gzipped ``records.csv.gz`` a repository keeps)."""
    path = Path(src).expanduser()
    if not path.is_dir():
        return path
    found = [path / n for n in ("records.csv", "records.csv.gz") if (path / n).is_file()]
    return found[0] if found else path / "records.csv"


def read_records(sources: list[str]) -> Any:
    """One DataFrame of the records in ``sources`` (folders with ``records.csv`` or files)."""
    import pandas as pd

    frames = []
    for src in sources:
        path = records_file(src)
        if not path.is_file():
            raise FileNotFoundError(f"no characterize records at {path}")
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        if "variant_name" not in frame or "improve" not in frame:
            raise ValueError(f"{path}: not nasgym characterize records (no variant_name/improve)")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _outputs(records: Any) -> list[str]:
    return [c.split(".", 1)[1] for c in records.columns if c.startswith("improve.")]


def cross_validate(
    records: Any,
    folds: int,
    target: str = "improve",
    score: str | None = None,
    per_model: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """Grouped cross-validation figures (module docstring): fitted on ``target``, scored on
    ``score`` (default: ``target``). ``per_model``: also each held-out model's figures under
    ``"per_model"`` (``seed``, ``pick``, ``random``, ``pick_upside``, ``random_upside`` lists),
    so that two metamodels' picks can be paired model by model."""
    from scipy.stats import spearmanr
    from sklearn.model_selection import GroupKFold

    from nasgym.stats import paired_wilcoxon
    from policies.metamodel import Metamodel, record_features, state_keys

    outputs = _outputs(records)
    variants = sorted(records["variant_name"].unique())
    rows = records[records["target_type"] == "network"].reset_index(drop=True)
    state = state_keys(rows, outputs)
    x, fit_y = record_features(rows, variants, outputs, target, state)
    y = fit_y if score in (None, target) else record_features(rows, variants, outputs, score)[1]
    groups = rows["seed"].to_numpy()
    names = rows["variant_name"].to_numpy()
    pred = np.zeros_like(y)
    fixed = np.empty(len(y), dtype=object)  # the best variant on average in the training folds
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        model = Metamodel(variants, outputs, state=state, **params).fit(x[train], fit_y[train])
        pred[test] = model.predict(x[test])
        means = {v: fit_y[train][names[train] == v].mean() for v in np.unique(names[train])}
        fixed[test] = max(means, key=means.get)
    rho = {o: float(spearmanr(pred[:, j], y[:, j]).statistic) for j, o in enumerate(outputs)}
    upside = np.maximum(y, 0.0).mean(axis=1)  # what a candidate can add to an archive
    picked, average, constant, picked_up, average_up = [], [], [], [], []
    for seed in np.unique(groups):
        at = np.flatnonzero(groups == seed)
        best = at[np.argmax(pred[at].mean(axis=1))]
        picked.append(y[best].mean())
        average.append(y[at].mean())
        picked_up.append(upside[best])
        average_up.append(upside[at].mean())
        same = at[names[at] == fixed[at[0]]]
        constant.append(y[same].mean() if len(same) else np.nan)
    picked, average, constant = np.array(picked), np.array(average), np.array(constant)
    picked_up, average_up = np.array(picked_up), np.array(average_up)

    def paired_p(a: np.ndarray, b: np.ndarray) -> float:
        p = paired_wilcoxon(a, b)["p"]  # None: no finite pair to test
        return float("nan") if p is None else p

    diff = picked - average
    figures = {
        "folds": folds,
        "scored_on": score or target,
        "rows": len(y),
        "models": len(picked),
        "spearman": rho,
        "pick_improve": float(picked.mean()),
        "random_improve": float(average.mean()),
        "pick_beats_random_models": int((diff > 0).sum()),
        "pick_wilcoxon_p": paired_p(picked, average),
        "fixed_variant_improve": float(np.nanmean(constant)),
        "pick_vs_fixed_wilcoxon_p": paired_p(picked, constant),
        "pick_upside": float(picked_up.mean()),
        "random_upside": float(average_up.mean()),
        "pick_upside_wilcoxon_p": paired_p(picked_up, average_up),
    }
    if per_model:
        figures["per_model"] = {
            "seed": [int(s) for s in np.unique(groups)],
            "pick": picked.tolist(),
            "random": average.tolist(),
            "pick_upside": picked_up.tolist(),
            "random_upside": average_up.tolist(),
        }
    return figures


def _study_markers(path: Path) -> list[dict[str, Any]]:
    """The per-model markers of the characterize run beside the records file ``path`` (its
    ``results.jsonl``), or none when the records came without it."""
    from nasgym.bench.store import read_records as read_store

    store = path.with_name("results.jsonl")
    if not store.is_file():
        return []
    return [r for r in read_store(store) if r.get("type") == "done"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@TRAINERS.register("metamodel")
class MetamodelTrainer(Trainer):
    """Train the operator metamodel on characterize records (grouped CV, then a final fit)."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--data", nargs="+", required=True, help="characterize folders or records files"
        )
        parser.add_argument("--out", required=True, help="model file (.skops; .json beside it)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-iter", type=int, default=50, help="boosting iterations")
        parser.add_argument("--learning-rate", type=float, default=0.05)
        parser.add_argument("--min-samples-leaf", type=int, default=40, help="rows per leaf")
        parser.add_argument(
            "--quantile",
            type=float,
            default=None,
            help="predict this quantile of the improvement instead of its mean (e.g. 0.9: an "
            "optimistic metamodel, whose picks favour moves with upside)",
        )
        parser.add_argument("--folds", type=int, default=5, help="grouped CV folds (0: none)")
        parser.add_argument(
            "--target",
            default="improve",
            help="what to predict: improve (each output's improvement over the control after "
            "the step, default) or improve@H (H steps later; records of `nasgym characterize "
            "--horizon H` or more): a metamodel that sees past the step",
        )
        parser.add_argument(
            "--cv-target",
            default=None,
            help="score the cross-validation on this target instead of --target (e.g. "
            "improve@3 for a metamodel fitted on improve): metamodels of different targets "
            "compared on one scale",
        )

    @classmethod
    def run(cls, args: argparse.Namespace) -> int:
        from policies.metamodel import Metamodel, record_features, state_keys

        start = time.perf_counter()
        records = read_records(args.data)
        outputs = _outputs(records)
        variants = sorted(records["variant_name"].unique())
        params = {
            "max_iter": args.max_iter,
            "learning_rate": args.learning_rate,
            "min_samples_leaf": args.min_samples_leaf,
            "quantile": args.quantile,
            "seed": args.seed,
        }
        state = state_keys(records, outputs)  # with regress where the records carry it
        x, y = record_features(
            records, variants, outputs, args.target, state
        )  # refuses a bad target
        cv = (
            cross_validate(records, args.folds, args.target, args.cv_target, **params)
            if args.folds > 1
            else None
        )
        files = [records_file(d) for d in args.data]
        studied = [rec for f in files for rec in _study_markers(f)]
        meta = {
            "command": "nasgym train metamodel " + shlex.join(sys.argv[3:])
            if sys.argv[1:3] == ["train", "metamodel"]
            else None,
            "data": [{"file": f.name, "sha256": _sha256(f)} for f in files],
            # the files carry wall times, so their hashes differ run to run; this one hashes
            # what the model learns from, and repeats wherever the study does
            "features_sha256": hashlib.sha256(
                np.ascontiguousarray(x, dtype=np.float64).tobytes()
                + np.ascontiguousarray(y, dtype=np.float64).tobytes()
            ).hexdigest(),
            "target": args.target,
            "datasets": sorted(map(str, records["dataset"].unique())),
            "rows": len(x),
            "models": int(records["seed"].nunique()),
            "seeds": [int(records["seed"].min()), int(records["seed"].max())],
            "budgets": sorted(
                {
                    (int(a), int(b))
                    for a, b in zip(
                        records["initial_batches"], records["step_batches"], strict=True
                    )
                }
            ),
            "cv": cv,
            # which code and platform studied the models (``nasgym characterize`` stores them
            # in results.jsonl beside records.csv): records differ across either
            "records_code": provenance_counts(studied, "code") if studied else None,
            "records_platform": provenance_counts(studied, "platform") if studied else None,
        }
        model = Metamodel(variants, outputs, meta=meta, state=state, **params).fit(x, y)
        model.meta["wall_s"] = round(time.perf_counter() - start, 1)
        out = model.save(args.out)
        print(f"metamodel: {len(x)} applications of {meta['models']} models, variants {variants}")
        if cv:
            rho = ", ".join(f"{o} {r:.2f}" for o, r in cv["spearman"].items())
            print(
                f"grouped {cv['folds']}-fold CV (scored on {cv['scored_on']}): Spearman rho "
                f"{rho}; the predicted best pick "
                f"improves {cv['pick_improve']:+.4f} against {cv['random_improve']:+.4f} for a "
                f"random pick (better on {cv['pick_beats_random_models']}/{cv['models']} models, "
                f"Wilcoxon p = {cv['pick_wilcoxon_p']:.3g}); the training folds' best single "
                f"variant improves {cv['fixed_variant_improve']:+.4f} (pick vs it: Wilcoxon "
                f"p = {cv['pick_vs_fixed_wilcoxon_p']:.3g}); its upside (the mean over outputs "
                f"of the positive part of the improvement) {cv['pick_upside']:+.4f} against "
                f"{cv['random_upside']:+.4f} (p = {cv['pick_upside_wilcoxon_p']:.3g})"
            )
        print(f"saved {out} and {out.with_suffix('.json')} in {model.meta['wall_s']} s")
        return 0


__all__ = ["MetamodelTrainer", "cross_validate", "read_records", "records_file"]
