"""How much of an agent's lead is its own choice on the rows that measure it: validation
against test hypervolume, paired by seed.

A VALP search accepts, and a look-ahead agent such as the ``oracle`` picks, on the same
validation rows that the bench's hypervolume is computed on; the more models an agent chooses
among, the more its validation scores flatter it. Given a bench folder whose runs carry test
scores (VALP's ``test_samples``), this compares each agent with a baseline agent (``--against``)
on the seeds where every compared agent's run is complete (or ``--seeds``):

- validation hypervolume (the bench's) and test hypervolume (select on validation, report on
  test: :func:`nasgym.bench.results.selected_test_points`) at the last step, and the test
  hypervolume at the ``--at`` steps: means, the ratio of means, the median difference, the
  rank-biserial effect and the Wilcoxon p-value (``--alternative``, two-sided by default; a
  one-sided test must have been written down before the run);
- the hypervolume of every candidate's test scores (no selection at all);
- the shrinkage: each run's validation minus test hypervolume, per agent, and whether the agent
  shrinks more than the baseline (two-sided);
- the held model's test objectives (:meth:`nasgym.bench.results.Run.chosen_test`), two-sided;
- the share of steps whose candidate was accepted, the number of points on the run's validation
  front and the share of them that were rejected candidates (a candidate worse than the control
  costs the archive nothing, and a rejected one can still hold a front point), two-sided;
- Fig. 9 per seed: each run's points on the validation front of all the compared agents' runs
  pooled, after the ``--at`` steps and the last (``pooled front points``; the bench summary
  gives the pooled counts, not a test). A pooled front is made of a few seeds' runs, so its
  count is tested as the paper's figure cannot be: per seed, paired, under ``--alternative``;
- the power of the comparison, for planning the next one: the standard deviation of the paired
  differences of the final test hypervolume, the power these seeds had to detect a lead of
  ``--lead`` (a fraction of the baseline's mean, default 0.05, as issue 9's ratio 1.05) at
  p < 0.05 under ``--alternative``, and the seeds a Wilcoxon test needs for 80 % power
  (:func:`nasgym.stats.paired_power`, :func:`nasgym.stats.seeds_for_power`), and how much the
  pairing helps: the correlation over seeds of the two agents' test hypervolumes at the ``--at``
  steps and the last (0: the shared seed no longer predicts anything; the paired differences
  then spread as much as unpaired ones would).

    python benchmarks/selection_bias.py runs/heldout-test --against random --at 15,30,45

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym import indicators as ind  # noqa: E402
from nasgym.bench.jobs import parse_seeds  # noqa: E402
from nasgym.bench.results import (  # noqa: E402
    Run,
    finite_rows,
    load_runs,
    match_labels,
    objective_bounds,
    selected_test_points,
    split_labels,
)
from nasgym.stats import paired_power, paired_wilcoxon, seeds_for_power  # noqa: E402


def run_metrics(run, names: list[str], bounds: list, at: list[int]) -> dict[str, float]:
    """Validation and test hypervolume at the end and at ``at``; the held model's test scores."""
    test = run.test_points(names)
    if test is None:
        raise SystemExit(f"{run.agent_label} seed {run.seed} carries no test scores")
    out = {
        "validation hypervolume": ind.hypervolume(finite_rows(run.points(names)), bounds),
        "test hypervolume": ind.hypervolume(selected_test_points(run, names), bounds),
        "test hypervolume, every candidate": ind.hypervolume(finite_rows(test), bounds),
    }
    out["shrinkage"] = out["validation hypervolume"] - out["test hypervolume"]
    for t in at:
        out[f"test hypervolume@{t}"] = ind.hypervolume(selected_test_points(run, names, t), bounds)
    chosen = run.chosen_test(names) or {}
    out.update({f"chosen test {n}": chosen.get(n, np.nan) for n in names})
    # the hill climber's acceptance, and how much of the run's validation front it threw away
    points = run.points(names)
    ok = np.all(np.isfinite(points), axis=1)
    front = np.zeros(len(points), dtype=bool)
    front[ok] = ind.nondominated_mask(points[ok])
    accepted = np.array([bool(r.get("accepted")) for r in run.steps])
    out["acceptance"] = float(accepted.mean()) if len(accepted) else np.nan
    out["front points"] = float(front.sum())
    out["front share rejected"] = float((front & ~accepted).sum() / max(front.sum(), 1))
    return out


#: figures compared two-sided whatever ``--alternative`` says (not "higher is better")
TWO_SIDED = ("shrinkage", "acceptance", "front points", "front share rejected")


def pair_correlation(x: list[float], y: list[float]) -> float | None:
    """Pearson correlation over seeds of two agents' values (None where one is constant)."""
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x_arr) < 3 or not (np.std(x_arr) > 0 and np.std(y_arr) > 0):
        return None
    return float(np.corrcoef(x_arr, y_arr)[0, 1])


def plan_power(diffs: list[float], test: dict, args: argparse.Namespace) -> dict:
    """Power of a paired comparison with these differences' spread, for a lead of
    ``args.lead`` times the baseline's mean (``test``: the test hypervolume's test record)."""
    side = "greater" if args.alternative == "greater" else "two-sided"
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
    lead = args.lead * test["against_mean"]
    if not sd > 0:
        return {"diff_sd": None, "lead": lead, "alternative": side, "power": None, "seeds_80": None}
    return {
        "diff_sd": sd, "lead": lead, "alternative": side,
        "power": paired_power(sd, lead, len(diffs), alternative=side),
        "seeds_80": seeds_for_power(sd, lead, alternative=side),
    }  # fmt: skip


def pooled_front_by_run(
    by: dict[str, dict[int, Run]], seeds: list[int], names: list[str], t: int | None
) -> dict[tuple[str, int], float]:
    """Fig. 9 per run: the points each run's first ``t`` models (all when None) hold on the
    validation front of every listed run's models pooled."""
    sets = {(a, s): runs[s].points(names)[:t] for a, runs in by.items() for s in seeds}
    return {key: float(c) for key, c in ind.front_counts(sets).items()}


def main(argv: list[str] | None = None) -> dict:
    """Compare; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="bench folder whose runs carry test scores")
    parser.add_argument(
        "--against", default="random", help="the baseline agent (label or bare name)"
    )
    parser.add_argument(
        "--agents",
        default="",
        help="comma list of agent labels or names (default: all); a label's kwargs may hold commas",
    )
    parser.add_argument("--seeds", default="", help="seeds to compare (default: all complete)")
    parser.add_argument("--at", default="", help="comma list of steps for the test hypervolume")
    parser.add_argument("--alternative", default="two-sided", choices=["two-sided", "greater"])
    parser.add_argument(
        "--lead", type=float, default=0.05,
        help="lead to plan for, as a fraction of the baseline's mean (default 0.05)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    runs = [r for r in load_runs(args.folder) if r.complete]
    if len({r.label for r in runs}) != 1:
        raise SystemExit(f"{args.folder}: compare runs of one env and env kwargs only")
    names, bounds = objective_bounds(runs)
    labels = sorted({r.agent_label for r in runs})
    try:
        requested = [args.against, *split_labels(args.agents)]
        against, *wanted = match_labels(requested, runs)
    except ValueError as err:
        raise SystemExit(f"{args.folder}, complete runs: {err}") from None
    wanted = wanted or [a for a in labels if a != against]
    by = {a: {r.seed: r for r in runs if r.agent_label == a} for a in [against, *wanted]}
    seeds = sorted(set.intersection(*(set(v) for v in by.values())))
    if args.seeds:
        asked = list(parse_seeds(args.seeds))
        lacking = sorted(set(asked) - set(seeds))
        if lacking:
            raise SystemExit(f"seeds {lacking} lack a complete run of some compared agent")
        seeds = asked
    at = [int(t) for t in args.at.split(",") if t]
    got = {a: {s: run_metrics(by[a][s], names, bounds, at) for s in seeds} for a in by}
    for t in [*at, None]:
        counts = pooled_front_by_run(by, seeds, names, t)
        for a in by:
            for s in seeds:
                got[a][s][f"pooled front points{'' if t is None else f'@{t}'}"] = counts[a, s]
    keys = list(got[against][seeds[0]])
    print(f"{args.folder}: {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), box {bounds}")
    for a in by:
        print(f"  {a}: " + ", ".join(
            f"{k} {np.nanmean([got[a][s][k] for s in seeds]):.4g}" for k in keys
        ))  # fmt: skip
    tests: dict[str, dict[str, dict]] = {}
    for a in wanted:
        print(f"{a} against {against} ({len(seeds)} pairs):")
        for k in keys:
            x = [got[a][s][k] for s in seeds]
            y = [got[against][s][k] for s in seeds]
            two_sided = k.startswith("chosen") or k in TWO_SIDED
            side = "two-sided" if two_sided else args.alternative
            res = paired_wilcoxon(x, y, side)
            ratio = float(np.nanmean(x) / np.nanmean(y)) if np.nanmean(y) else None
            tests.setdefault(a, {})[k] = {
                "mean": float(np.nanmean(x)), "against_mean": float(np.nanmean(y)),
                "ratio": ratio, "alternative": side, **res,
            }  # fmt: skip
            wins = int(np.sum(np.asarray(x) > np.asarray(y)))
            p, r = res["p"], res["effect"]
            print(
                f"  {k}: {np.nanmean(x):.4g} vs {np.nanmean(y):.4g}"
                + ("" if ratio is None or two_sided else f", ratio {ratio:.3f}, higher on {wins}")
                + f", median diff {res['median_diff']:+.3g}, r = "
                + ("-" if r is None else f"{r:+.2f}")
                + f", p ({side}) = {'-' if p is None else f'{p:.2g}'}"
            )
    for a in wanted:
        diffs = [got[a][s]["test hypervolume"] - got[against][s]["test hypervolume"] for s in seeds]
        tests[a]["power"] = power = plan_power(diffs, tests[a]["test hypervolume"], args)
        power["pair_corr"] = corr = {
            k: pair_correlation([got[a][s][k] for s in seeds], [got[against][s][k] for s in seeds])
            for k in keys
            if k.startswith("test hypervolume@") or k == "test hypervolume"
        }
        print(
            f"{a}: correlation of its test hypervolume with {against}'s over the seeds: "
            + ", ".join(f"{'step ' + k.split('@')[1] if '@' in k else 'last step'} {v:+.2f}"
                        for k, v in sorted(corr.items(), key=lambda kv: "@" not in kv[0])
                        if v is not None)
        )  # fmt: skip
        if power["diff_sd"] is not None:
            print(
                f"{a}: paired differences of the test hypervolume have sd {power['diff_sd']:.3g}; "
                f"a lead of {args.lead:.0%} ({power['lead']:.3g}) is found at p < 0.05 "
                f"({power['alternative']}) with power {power['power']:.2f} on these "
                f"{len(seeds)} seeds, with 80 % power on "
                + (f"{power['seeds_80']} seeds" if power["seeds_80"] else "no number of seeds")
            )
    record = {
        "benchmark": "selection_bias",
        "folder": args.folder,
        "against": against,
        "seeds": seeds,
        "means": {
            a: {k: float(np.nanmean([got[a][s][k] for s in seeds])) for k in keys} for a in by
        },
        "tests": tests,
    }
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()
