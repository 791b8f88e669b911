"""Does a seed's trajectory depend on the CPU kernels? The same bench run on two kernel sets.

Runs one ``nasgym bench`` run (one agent, one seed) twice in fresh processes, once with torch's
kernels for this machine's CPU and once with ``ATEN_CPU_CAPABILITY`` lowered (default: the plain
``default`` kernels), as if on another machine, then compares the two trajectories step by step:
the first step whose objectives differ, their largest relative difference there, and the first
step whose action differs. Why bench runs record their ``platform`` and a summary warns when a
folder mixes platforms (:mod:`nasgym._provenance`).

    NASGYM_DATA_DIR=../shared/data python benchmarks/platform_drift.py --steps 10 \\
        --env-kwargs '{"initial_batches": 250, "step_batches": 50, "eval_samples": 2000}'

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasgym.bench.results import load_runs  # noqa: E402


def trajectory(args: argparse.Namespace, capability: str | None, out: Path) -> tuple[list, str]:
    """``[(action, objectives)]`` of the run, and its recorded platform."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    cmd = [
        sys.executable, "-m", "nasgym.cli", "bench", "--env", args.env, "--agent", args.agent,
        "--seeds", f"{args.seed}-{args.seed}", "--steps", str(args.steps), "--workers", "1",
        "--out", str(out), "--env-kwargs", args.env_kwargs, "--no-plots", "--no-progress",
    ]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    (run,) = load_runs(out)
    steps = [(json.dumps(s["action"]), s["objectives"]) for s in run.steps]
    return steps, run.done["platform"]


def main(argv: list[str] | None = None) -> dict:
    """Run twice, compare; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="nasgym/VALP-Paper-v0")
    parser.add_argument("--env-kwargs", default="{}", help="JSON object of env arguments")
    parser.add_argument("--agent", default="rules")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lowered", default="default", help="ATEN_CPU_CAPABILITY of run two")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        native, native_platform = trajectory(args, None, Path(tmp) / "native")
        lowered, lowered_platform = trajectory(args, args.lowered, Path(tmp) / "lowered")
    first_objective = first_action = None
    largest = 0.0
    for step, ((act_a, obj_a), (act_b, obj_b)) in enumerate(
        zip(native, lowered, strict=False), start=1
    ):
        if first_objective is None and obj_a != obj_b:
            first_objective = step
            largest = max(abs(obj_a[k] - obj_b[k]) / max(abs(obj_a[k]), 1e-12) for k in obj_a)
        if first_action is None and act_a != act_b:
            first_action = step
    print(f"{args.env} {args.env_kwargs}, agent {args.agent}, seed {args.seed}, {args.steps} steps")
    print(f"  run 1: {native_platform}")
    print(f"  run 2: {lowered_platform}")
    if first_objective is None:
        print("  identical trajectories")
    else:
        print(
            f"  objectives first differ at step {first_objective} (largest relative {largest:.2e})"
        )
        print(f"  actions first differ at step {first_action or 'none'}")
    result = dict(
        benchmark="platform_drift",
        env=args.env,
        env_kwargs=json.loads(args.env_kwargs),
        agent=args.agent,
        seed=args.seed,
        steps=args.steps,
        platforms=[native_platform, lowered_platform],
        first_objective_step=first_objective,
        largest_relative_difference=largest,
        first_action_step=first_action,
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
