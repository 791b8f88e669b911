"""How fast each agent grows the part of a VALP that serves each output, and what that bodes.

A one-step learner can pay for its gains later: an edit that beats the control now (a gentle
clone of the sampler's network does so most of the time on MNIST) makes the model larger, and
a larger subgraph may train worse over the rest of the episode. From the step records of a
bench folder (VALP runs; the held model is each step's ``current_descriptor``), it prints, per
agent:

- at each ``--at`` step, the mean number of networks of the held model and, per output, of its
  output's subgraph (the networks whose emissions reach it);
- per output, over the agent's runs, the Spearman correlation between that subgraph's size at
  step ``--early`` and the held model's objective of that output at the end (on test rows when
  the runs carry them, else validation), with its p-value: observational, not a test of cause.

    python benchmarks/subgraph_growth.py docs/heldout/records/changed-mnist --at 10,20,40,60

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.bench.results import group_runs, load_runs  # noqa: E402
from nasgym.valp import VALP  # noqa: E402
from nasgym.valp.subgraphs import output_subgraph  # noqa: E402


def sizes(descriptor: str, names: list[str]) -> dict[str, int]:
    """Networks of the model (``"networks"``) and of each output's subgraph."""
    valp = VALP.from_json(descriptor)
    out = {"networks": len(valp.network_ids)}
    for name in names:
        out[name] = sum(c.startswith("n:") for c in output_subgraph(valp, "o:" + name))
    return out


def final_objectives(run, names: list[str]) -> dict[str, float]:
    """The held model's objectives at the end: test rows where the run has them."""
    test = run.chosen_test(names)
    if test is not None:
        return {n: float(test[n]) for n in names}
    info = run.steps[-1].get("info") or {}
    return {n: float(info["current_objectives." + n]) for n in names}


def main(argv: list[str] | None = None) -> dict:
    """Measure; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="bench folder of VALP runs")
    parser.add_argument("--at", default="10,20,40,60", help="comma list of steps")
    parser.add_argument("--early", type=int, default=10, help="step whose sizes are correlated")
    args = parser.parse_args(argv)
    at = [int(t) for t in args.at.split(",") if t]
    runs = [r for r in load_runs(args.folder) if r.complete]
    if not runs:
        raise SystemExit(f"{args.folder}: no complete run")
    result: dict = {"folder": args.folder, "agents": {}}
    for env, agents in group_runs(runs).items():
        for agent, lst in agents.items():
            names = lst[0].objective_names()
            steps = {r.seed: {int(s["step"]): s for s in r.steps} for r in lst}
            missing = [t for t in {*at, args.early} if any(t not in v for v in steps.values())]
            if missing:
                raise SystemExit(f"{env} / {agent}: runs without step(s) {sorted(missing)}")
            grown = {
                t: [sizes(steps[r.seed][t]["info"]["current_descriptor"], names) for r in lst]
                for t in sorted({*at, args.early})
            }
            means = {
                t: {k: float(np.mean([g[k] for g in grown[t]])) for k in grown[t][0]} for t in at
            }
            ends = [final_objectives(r, names) for r in lst]
            corr = {}
            for n in names:
                rho, p = stats.spearmanr([g[n] for g in grown[args.early]], [e[n] for e in ends])
                corr[n] = {"rho": float(rho), "p": float(p)}
            result["agents"][agent] = {"runs": len(lst), "sizes": means, "early_vs_end": corr}
            print(f"{agent} ({len(lst)} runs of {env}):")
            for t in at:
                parts = ", ".join(f"{k} {v:.2f}" for k, v in means[t].items())
                print(
                    f"  step {t}: networks of the held model / of each output's subgraph: {parts}"
                )
            print(
                f"  subgraph size at step {args.early} against the held model's objective at the "
                "end (Spearman): "
                + ", ".join(f"{n} {c['rho']:+.2f} (p = {c['p']:.2g})" for n, c in corr.items())
            )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
