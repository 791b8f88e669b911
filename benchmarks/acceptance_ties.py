"""How often a VALP step's candidate ties its control, and what each acceptance rule keeps.

Under ``credit="control"`` the candidate and the control train on the same batches in the same
order from the same generator state, so an output whose networks the edit did not touch trains
bit for bit alike in both and its objective *ties*. The paper's rule (strictly better on more
than half of the objectives) then cannot keep an edit confined to one output, however much it
helped that output; ``acceptance="changed"`` counts the majority over the objectives that
differ. From the step records of bench folders (``credit="control"`` runs; the step's target
and the model before it, the previous step's ``current_descriptor``, give the outputs the
target reaches; the first step of a run has no recorded model before it and is left out), it
prints, per operator variant and for all steps:

- ``one-output``: the share of steps whose target is a network reaching a single output;
- for those steps, the share that tie the control on every other objective, and the share
  whose candidate beats the control on the output it reaches;
- the share of all steps accepted as recorded, and as the ``"paper"`` and ``"changed"`` rules
  decide from the same objectives (a step at a time: a different decision would have changed
  the rest of the run, which these records cannot say).

    python benchmarks/acceptance_ties.py docs/heldout/records/crn-mnist-off

Prints the table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.bench.results import load_runs  # noqa: E402
from nasgym.valp import VALP  # noqa: E402
from nasgym.valp.subgraphs import outputs_reached  # noqa: E402


def step_rows(folder: str, agents: set[str] | None = None) -> list[dict]:
    """One row per step with a recorded control and a known model before it."""
    rows = []
    runs = [r for r in load_runs(folder) if agents is None or r.agent in agents]
    for run in runs:
        names = run.objective_names()
        before = None
        for step in run.steps:
            info = run_info(step)
            if "control_objectives." + names[0] not in info:
                raise SystemExit(
                    f"{folder}: {run.agent} seed {run.seed} step {step['step']} has no control "
                    "objectives (only credit='control' runs have them)"
                )
            if before is not None:
                rows.append(row(step, info, names, before))
            before = info.get("current_descriptor")
    return rows


def run_info(step: dict) -> dict:
    info = step.get("info") or {}
    return info if isinstance(info, dict) else {}


def row(step: dict, info: dict, names: list[str], before: str) -> dict:
    """The step's counts: objectives better / worse / tied against the control, the outputs its
    target reaches, and what each rule decides."""
    # a diverged model's objectives are stored as null: infinitely bad
    cand = {n: _worst(step["objectives"][n]) for n in names}
    ctrl = {n: _worst(info["control_objectives." + n]) for n in names}
    better = sum(cand[n] < ctrl[n] for n in names)
    worse = sum(cand[n] > ctrl[n] for n in names)
    target = str(info.get("target", ""))
    valp = VALP.from_json(before)
    reached = (
        sorted(n for n in names if "o:" + n in outputs_reached(valp, target))
        if target.startswith("n:") and valp.has(target)
        else []
    )
    diverged = bool(info.get("diverged"))
    return {
        "operator": str(info.get("operator", "")),
        "reached": reached,
        "others_tied": len(reached) == 1
        and all(cand[n] == ctrl[n] for n in names if n not in reached),
        "helped": len(reached) == 1 and cand[reached[0]] < ctrl[reached[0]],
        "accepted": bool(step.get("accepted")),
        "paper": not diverged and better > len(names) / 2,
        "changed": not diverged and better > (better + worse) / 2,
    }


def _worst(value: object) -> float:
    return math.inf if value is None else float(value)


def shares(rows: list[dict]) -> dict:
    """The table's figures for a group of steps."""
    one = [r for r in rows if len(r["reached"]) == 1]
    mean = lambda key, rs: float(np.mean([r[key] for r in rs])) if rs else float("nan")  # noqa: E731
    return {
        "steps": len(rows),
        "one_output": len(one) / len(rows) if rows else float("nan"),
        "others_tied": mean("others_tied", one),
        "helped": mean("helped", one),
        "accepted": mean("accepted", rows),
        "paper": mean("paper", rows),
        "changed": mean("changed", rows),
    }


def main(argv: list[str] | None = None) -> dict:
    """Count; print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="bench folders (credit='control' runs)")
    parser.add_argument("--agents", default="", help="comma list of agent names (default all)")
    args = parser.parse_args(argv)
    agents = set(args.agents.split(",")) if args.agents else None
    rows = [r for folder in args.folders for r in step_rows(folder, agents)]
    if not rows:
        raise SystemExit("no steps with a known model before them in " + ", ".join(args.folders))
    groups = defaultdict(list)
    for r in rows:
        groups[r["operator"]].append(r)
    table = {name: shares(rs) for name, rs in sorted(groups.items())}
    table["all"] = shares(rows)
    print(
        f"{'operator':28s} {'steps':>6s} {'one-output':>10s} {'others tied':>11s} "
        f"{'helped':>7s} {'accepted':>8s} {'paper':>6s} {'changed':>7s}"
    )
    for name, s in table.items():
        print(
            f"{name:28s} {s['steps']:6d} {s['one_output']:10.2f} {s['others_tied']:11.2f} "
            f"{s['helped']:7.2f} {s['accepted']:8.2f} {s['paper']:6.2f} {s['changed']:7.2f}"
        )
    result = {"folders": args.folders, "agents": sorted(agents) if agents else "all", **table}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
