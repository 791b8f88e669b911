"""Time of a default ``nasgym/VALP-v0`` step on digits, split into its parts.

Parts: *retraining* (training the candidate for ``step_batches``), *evaluation* (validation
objectives), *diagnostics* (module/input interventions, probes, slopes) and *everything else*
(operator application, action mask, observation, reward, bookkeeping: the step's wall time minus
the three measured parts). Targets (issue 3): diagnostics <= 20% of retraining, everything else
<= 5% of retraining. The env diagnoses only accepted candidates (a rejected one leaves the
current model, whose diagnosis is kept), so diagnostics are also reported per diagnosis against
one step's retraining, the figure the target is checked on. Operator application (building the
candidate, weight inheritance) is reported on its own. Evaluation is reported on its own (it is the search's fitness evaluation,
not environment overhead). Steps take uniformly random valid actions from a fixed seed, all in
one run, single-threaded torch. Prints the figures, then one JSON line.

    python benchmarks/valp_env.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nasgym.envs.valp as valp_env  # noqa: E402

CALLS: dict[str, int] = defaultdict(int)


def _timed(table: dict[str, float], part: str, fn):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            table[part] += time.perf_counter() - start
            CALLS[part] += 1

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--steps", type=int, default=None, help="steps to time (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = args.steps or (10 if args.quick else 40)

    parts: dict[str, float] = defaultdict(float)
    # wrap the module-level functions the env calls, so each part is timed where it runs
    valp_env.train = _timed(parts, "retraining", valp_env.train)
    valp_env.evaluate = _timed(parts, "evaluation", valp_env.evaluate)
    valp_env.diagnose = _timed(parts, "diagnostics", valp_env.diagnose)

    env = valp_env.VALPEnv()
    for op in env._ops.values():
        op.apply = _timed(parts, "operator", op.apply)
    env.reset(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    parts.clear()
    CALLS.clear()
    total = 0.0
    for _ in range(steps):
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        start = time.perf_counter()
        env.step(action)
        total += time.perf_counter() - start
    other = total - sum(parts[k] for k in ("retraining", "evaluation", "diagnostics", "operator"))
    per_step = {
        k: 1000 * v / steps for k, v in [*parts.items(), ("other", other), ("total", total)]
    }
    print(f"nasgym/VALP-v0 default step on digits, {steps} random valid actions, seed {args.seed}")
    for key in ("retraining", "evaluation", "diagnostics", "operator", "other", "total"):
        print(f"  {key:<12} {per_step.get(key, 0.0):8.1f} ms/step")
    ratios = {
        "diagnostics_over_retraining": parts["diagnostics"] / parts["retraining"],
        "other_over_retraining": other / parts["retraining"],
        "evaluation_over_retraining": parts["evaluation"] / parts["retraining"],
        "operator_over_retraining": parts["operator"] / parts["retraining"],
    }
    # the env diagnoses only accepted candidates; per diagnosis, against one step's retraining:
    per_diagnosis = parts["diagnostics"] / max(CALLS["diagnostics"], 1)
    ratios["diagnosis_call_over_step_retraining"] = per_diagnosis / (parts["retraining"] / steps)
    print(
        f"  diagnoses    {CALLS['diagnostics']:8d} of {steps} steps "
        f"({1000 * per_diagnosis:.1f} ms each)"
    )
    for key, value in ratios.items():
        print(f"  {key:<30} {value:6.3f}")
    print(
        json.dumps(
            {
                "benchmark": "valp_env",
                "steps": steps,
                "ms_per_step": per_step,
                **ratios,
                "targets": {"diagnostics_over_retraining": 0.20, "other_over_retraining": 0.05},
                "diagnoses": CALLS["diagnostics"],
                "meets_targets": ratios["diagnosis_call_over_step_retraining"] <= 0.20
                and ratios["other_over_retraining"] <= 0.05,
            }
        )
    )


if __name__ == "__main__":
    main()
