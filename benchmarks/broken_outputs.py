"""How often a VALP search holds a model with a broken output, and what it does about it.

An output is *broken* at a step when the objective of the model held after it (the env's
``info["current_objectives"]``, lower is better) is above ``--factor`` times the lowest the held
model has had in the run so far (from step 1: the records do not keep the initial model's), the
reading of the rules agent's ``mend`` option. Given a bench folder, per agent (each run complete,
paired by seed with ``--against``):

- the runs whose held model ends broken;
- the breaks: steps whose held model is broken after them and was not before (from step 2), and
  the operators that made them, each with its rate: breaks per application from an unbroken
  state;
- the share of a run's steps held broken (paired Wilcoxon against ``--against``, two-sided);
- the mending moves: steps taken from a broken state that delete a network (``delete_network``),
  how many, how many the env accepted, and the output's median log ratio of the held objective
  before over after such an accepted move.

Training alone never breaks an output at the paper's budget (``valp_train_only.py``'s runs); an
operator does, and a step that improves the other objectives is accepted with it.

    python benchmarks/broken_outputs.py docs/heldout/records/heldout-5000 --output sample

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.bench.results import Run, load_runs, match_labels  # noqa: E402
from nasgym.stats import paired_wilcoxon  # noqa: E402


def broken_steps(run: Run, output: str, factor: float) -> np.ndarray:
    """Per step, whether the model held after it has ``output`` above ``factor`` times the lowest
    the held model has had since step 1."""
    held = np.array([float(r["info"][f"current_objectives.{output}"]) for r in run.steps])
    return held > factor * np.minimum.accumulate(held)


def run_figures(run: Run, output: str, factor: float) -> dict:
    """One run's figures (see the module docstring)."""
    broken = broken_steps(run, output, factor)
    held = [float(r["info"][f"current_objectives.{output}"]) for r in run.steps]
    moves, accepted, mends, breaks, tries = 0, 0, [], [], []
    for t in range(1, len(run.steps)):
        step = run.steps[t]
        if not broken[t - 1]:
            tries.append(str(step["info"].get("operator", "")))
            if broken[t]:
                breaks.append(tries[-1])
        if broken[t - 1] and str(step["info"].get("operator", "")) == "delete_network":
            moves += 1
            if step.get("accepted"):
                accepted += 1
                mends.append(math.log(held[t - 1] / held[t]))
    return {
        "ends_broken": bool(broken[-1]),
        "share_broken": float(broken.mean()),
        "mending_moves": moves,
        "mending_accepted": accepted,
        "mends": mends,
        "breaks": breaks,
        "tries": tries,
        "steps": len(run.steps),
    }


def main(argv: list[str] | None = None) -> dict:
    """Count, compare, print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a VALP bench folder")
    parser.add_argument("--output", default="sample", help="the output to read (default sample)")
    parser.add_argument("--factor", type=float, default=2.0, help="broken above this x best")
    parser.add_argument("--against", default="random", help="the baseline agent (label or name)")
    args = parser.parse_args(argv)
    if not args.factor > 1:
        raise SystemExit(f"--factor must be > 1, got {args.factor}")
    runs = [run for run in load_runs(args.folder) if run.complete]
    if not runs:
        raise SystemExit(f"{args.folder}: no complete run")
    key = f"current_objectives.{args.output}"
    if any(key not in r["info"] for run in runs for r in run.steps):
        outputs = sorted(k.split(".", 1)[1] for k in runs[0].steps[0]["info"] if "current_obj" in k)
        raise SystemExit(f"no output {args.output!r} in the records' current objectives: {outputs}")
    labels = sorted({run.agent_label for run in runs})
    against = match_labels([args.against], runs)[0]
    by = {lab: {run.seed: run_figures(run, args.output, args.factor)
                for run in runs if run.agent_label == lab} for lab in labels}  # fmt: skip
    record = {"benchmark": "broken_outputs", "folder": args.folder, "output": args.output,
              "factor": args.factor, "against": against, "agents": {}}  # fmt: skip
    print(f"{args.folder}: {args.output} broken above {args.factor:g} x its best so far")
    print(f"{'agent':60s} runs  ends broken  steps broken  mending moves (accepted)  median mend")
    for lab in labels:
        figs = by[lab]
        mends = [m for f in figs.values() for m in f["mends"]]
        row = {
            "runs": len(figs),
            "ends_broken": sum(f["ends_broken"] for f in figs.values()),
            "share_broken": float(np.mean([f["share_broken"] for f in figs.values()])),
            "mending_moves": sum(f["mending_moves"] for f in figs.values()),
            "mending_accepted": sum(f["mending_accepted"] for f in figs.values()),
            "median_mend": float(np.median(mends)) if mends else None,
            "breaks": sum(len(f["breaks"]) for f in figs.values()),
            "break_rate": sum(len(f["breaks"]) for f in figs.values())
            / max(1, sum(f["steps"] - 1 for f in figs.values())),
            "breaks_by_operator": dict(
                Counter(op for f in figs.values() for op in f["breaks"]).most_common()
            ),
        }
        tried = Counter(op for f in figs.values() for op in f["tries"])
        row["break_rate_by_operator"] = {
            op: k / tried[op] for op, k in row["breaks_by_operator"].items()
        }
        seeds = sorted(set(figs) & set(by[against]))
        if lab != against and seeds:
            row["share_broken_vs_against"] = {
                "seeds": len(seeds),
                **paired_wilcoxon([figs[s]["share_broken"] for s in seeds],
                                  [by[against][s]["share_broken"] for s in seeds]),
            }  # fmt: skip
        record["agents"][lab] = row
        show(lab, row, against)
    print(json.dumps(record))
    return record


def show(label: str, row: dict, against: str) -> None:
    """Print one agent's line of the table (and its paired test, if any)."""
    mend = "-" if row["median_mend"] is None else f"{row['median_mend']:+.2f}"
    print(
        f"{label:60s} {row['runs']:4d}  {row['ends_broken']:11d}  {row['share_broken']:12.1%}  "
        f"{row['mending_moves']:13d} ({row['mending_accepted']})  {mend:>11s}"
    )
    rate = row["break_rate_by_operator"]
    ops = ", ".join(f"{op} {k} ({rate[op]:.1%})" for op, k in row["breaks_by_operator"].items())
    ops = ops or "none"
    print(f"    breaks: {row['breaks']} ({row['break_rate']:.1%} of steps after the first): {ops}")
    vs = row.get("share_broken_vs_against")
    if vs and vs["p"] is not None:
        print(f"    steps broken vs {against}: median difference {vs['median_diff']:+.3f}, "
              f"r = {vs['effect']:+.2f}, p = {vs['p']:.2g} ({vs['seeds']} seeds)")  # fmt: skip


if __name__ == "__main__":
    main()
