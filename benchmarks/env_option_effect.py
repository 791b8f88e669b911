"""The effect of an env option on agents: the same agents and seeds benched without and with it.

Given two bench folders, BASE and OPTION, holding runs of the same agents on the same env id and
seeds (the env kwargs differ by the option), it labels OPTION's agents ``NAME+option`` and
compares, on the seeds every compared run shares:

- per agent, with the option against without: hypervolume at the last step (the env's box) and
  the run's points in the per-seed front of all compared runs (Fig. 9 per seed), by a paired
  two-sided Wilcoxon signed-rank test with the rank-biserial effect;
- every pair of agents within and across the conditions on hypervolume
  (:func:`nasgym.bench.summary.paired_comparisons`, Holm-adjusted over the pairs);
- with ``--at 20,30,45``: every pair of agents within each condition on the hypervolume of the
  first 20, 30, 45 steps (the paper's "ahead from step ~20 on"), unadjusted;
- how tightly the seeds pair the agents in each condition (an option such as VALP's
  ``common_noise`` is meant to tighten it): for each pair of agents, the standard deviation of
  their paired hypervolume differences and their correlation over the seeds, without and with
  the option, and the Pitman-Morgan test that the option's spread is the smaller
  (:func:`nasgym.stats.spread_test`, one-sided). A smaller spread means fewer seeds for the same
  power (``benchmarks/selection_bias.py`` prints the seeds a lead needs).

    python benchmarks/env_option_effect.py runs/heldout runs/heldout-detach --agents random,rules

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
from nasgym.bench.results import (  # noqa: E402
    finite_rows,
    load_runs,
    match_labels,
    objective_bounds,
    split_labels,
)
from nasgym.bench.summary import paired_comparisons  # noqa: E402
from nasgym.stats import paired_wilcoxon, spread_test  # noqa: E402


def runs_of(folder: str, agents: list[str], suffix: str) -> dict[str, dict[int, object]]:
    """``name + suffix -> seed -> run`` of ``agents`` in ``folder`` (complete runs only; each
    name a label or an agent's bare name, :func:`nasgym.bench.results.match_labels`)."""
    runs = [r for r in load_runs(folder) if r.complete]
    try:
        labels = match_labels(agents, runs)
    except ValueError as err:
        raise SystemExit(f"{folder}, complete runs: {err}") from None
    out = {
        name + suffix: {r.seed: r for r in runs if r.agent_label == label}
        for name, label in zip(agents, labels, strict=True)
    }
    envs = {r.env for group in out.values() for r in group.values()}
    if len(envs) != 1:
        raise SystemExit(f"{folder}: the runs are of more than one env: {sorted(envs)}")
    return out


def main(argv: list[str] | None = None) -> dict:
    """Compare; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="bench folder without the option")
    parser.add_argument("option", help="bench folder with the option")
    parser.add_argument(
        "--agents", default="random,rules", help="comma list (agent labels or bare names)"
    )
    parser.add_argument("--suffix", default="+option", help="label suffix of the option's runs")
    parser.add_argument("--at", default="", help="comma list of steps for per-step tests")
    args = parser.parse_args(argv)
    try:
        agents = split_labels(args.agents)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    groups = {**runs_of(args.base, agents, ""), **runs_of(args.option, agents, args.suffix)}
    first = next(iter(next(iter(groups.values())).values()))
    if any(r.env != first.env for g in groups.values() for r in g.values()):
        raise SystemExit("the two folders hold runs of different envs")
    seeds = sorted(set.intersection(*(set(g) for g in groups.values())))
    if not seeds:
        raise SystemExit("no seed is shared by every compared run")
    names, bounds = objective_bounds([g[s] for g in groups.values() for s in seeds])
    hv = {
        k: [ind.hypervolume(finite_rows(g[s].points(names)), bounds) for s in seeds]
        for k, g in groups.items()
    }
    front = {k: [] for k in groups}
    for s in seeds:  # Fig. 9 per seed: each run's points in the front of all compared runs
        counts = ind.front_counts({k: g[s].points(names) for k, g in groups.items()})
        for k in groups:
            front[k].append(int(counts[k]))
    print(f"{first.env}, {len(seeds)} paired seeds, box {dict(zip(names, bounds, strict=True))}")
    for k in groups:
        print(
            f"  {k:>16}: hypervolume {np.mean(hv[k]):.3f} ± {np.std(hv[k], ddof=1):.3f}, "
            f"front points per seed {np.mean(front[k]):.2f}"
        )
    effects = {}
    for a in agents:
        b = a + args.suffix
        effects[a] = {
            "hypervolume": paired_wilcoxon(hv[b], hv[a]),
            "front_points": paired_wilcoxon(front[b], front[a]),
        }
        for metric, t in effects[a].items():
            p = "n/a" if t["p"] is None else f"{t['p']:.2g}"
            effect = "n/a" if t["effect"] is None else f"{t['effect']:+.2f}"
            print(
                f"  {a}: with the option vs without, {metric}: median diff "
                f"{t['median_diff']:+.3f}, r {effect}, p {p} (n {t['n']})"
            )
    by_agent = {k: [g[s] for s in seeds] for k, g in groups.items()}
    pairs = [e for e in paired_comparisons(by_agent, names, bounds) if e["metric"] == "hypervolume"]
    for e in pairs:
        p = "n/a" if e["p"] is None else f"{e['p']:.2g}"
        print(
            f"  hypervolume {e['a']} vs {e['b']}: median diff {e['median_diff']:+.3f}, "
            f"r {e['effect']:+.2f}, p {p}, Holm {e['p_holm']:.2g}"
        )
    at_steps = {}
    for t in [int(x) for x in args.at.split(",") if x]:
        hv_t = {
            k: [ind.hypervolume(finite_rows(g[s].points(names)[:t]), bounds) for s in seeds]
            for k, g in groups.items()
        }
        for suffix in ("", args.suffix):
            for i, a in enumerate(agents):
                for b in agents[i + 1 :]:
                    x, y = hv_t[a + suffix], hv_t[b + suffix]
                    test = paired_wilcoxon(x, y)
                    at_steps[f"{a}{suffix} vs {b}{suffix} @{t}"] = test
                    p = "n/a" if test["p"] is None else f"{test['p']:.2g}"
                    print(
                        f"  hypervolume of steps 1-{t}, {a}{suffix} vs {b}{suffix}: means "
                        f"{np.mean(x):.3f} / {np.mean(y):.3f}, median diff "
                        f"{test['median_diff']:+.3f}, r {test['effect']:+.2f}, p {p}"
                    )
    pairing = {}
    for i, a in enumerate(agents):
        for b in agents[i + 1 :]:
            base = np.subtract(hv[a], hv[b])
            opt = np.subtract(hv[a + args.suffix], hv[b + args.suffix])
            try:
                test = spread_test(opt, base)
            except ValueError as err:  # too few seeds, or no spread
                print(f"  pairing of {a} and {b}: {err}")
                continue
            corr = {
                cond: float(np.corrcoef(hv[a + cond], hv[b + cond])[0, 1])
                for cond in ("", args.suffix)
            }
            pairing[f"{a} vs {b}"] = {**test, "pair_corr": corr}
            print(
                f"  pairing of {a} and {b}: sd of the paired hypervolume differences "
                f"{test['sd_b']:.3g} without the option, {test['sd_a']:.3g} with it (ratio "
                f"{test['ratio']:.2f}, Pitman-Morgan one-sided p {test['p']:.2g}); their "
                f"correlation over the seeds {corr['']:+.2f} without, {corr[args.suffix]:+.2f} with"
            )
    kwargs = {"base": first.env_kwargs}
    kwargs["option"] = next(iter(groups[agents[0] + args.suffix].values())).env_kwargs
    means = {"hypervolume": hv, "front_points": front}
    out = {"benchmark": "env_option_effect", "env": first.env, **kwargs, "seeds": seeds}
    out |= {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in means.items()}
    out |= {"option_vs_base": effects, "pairs": pairs, "at_steps": at_steps, "pairing": pairing}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
