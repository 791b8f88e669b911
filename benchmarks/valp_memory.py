"""Memory of one VALP episode on real data: RSS growth over a 60-step episode.

Runs one episode of ``--env`` (default ``nasgym/VALP-Paper-v0``: Fashion-MNIST from
``$NASGYM_DATA_DIR``, the paper's settings) with uniformly random valid actions and samples the
process's resident set size (``/proc/self/statm``) after reset and after every step. Reports the
RSS after reset, the peak over the episode and the growth (peak over the episode minus the RSS
after the first step, when every lazily built piece exists), and the current model's parameter
count and widest layer after step 1 and at the peak (the memory the live model itself needs:
its weights, the candidate's and the control's, their optimiser states and activations).
Target (issue 8): growth <= 50 MB.
Budgets can be lowered with ``--env-kwargs`` (memory does not grow with the training budget: the
lineage's loss history is 3 floats a batch); the figures in the README say which were used.

    NASGYM_DATA_DIR=../shared/data python benchmarks/valp_memory.py \\
        [--env nasgym/VALP-Paper-v0] [--env-kwargs JSON] [--steps 60] [--seed 0] [--bound-heap]

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402

import nasgym  # noqa: E402, F401  (registers the envs)
from nasgym.valp.operators.base import widest_layer  # noqa: E402

TARGET_MB = 50.0


def rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def model_size(model) -> dict[str, int]:
    """The current model's parameter count and widest layer (what the live model itself holds)."""
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "widest": widest_layer(*model.valp.networks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="nasgym/VALP-Paper-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bound-heap",
        action="store_true",
        help="call nasgym._memory.bound_heap() first (glibc serves blocks >= 1 MiB by mmap)",
    )
    args = parser.parse_args()
    if args.bound_heap:
        from nasgym._memory import bound_heap

        print(f"bound_heap applied: {bound_heap()}")
    start = time.perf_counter()
    env = gym.make(args.env, max_steps=args.steps, **json.loads(args.env_kwargs)).unwrapped
    env.reset(seed=args.seed)
    after_reset = rss_mb()
    rng = np.random.default_rng(args.seed)
    trace, sizes = [], []
    for _ in range(args.steps):
        env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
        trace.append(rss_mb())
        sizes.append(model_size(env._model))
    growth = max(trace) - trace[0]
    at_peak = sizes[int(np.argmax(trace))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall = time.perf_counter() - start
    print(f"env {args.env} {json.loads(args.env_kwargs)}: {args.steps} steps in {wall:.0f} s")
    print(f"  RSS after reset {after_reset:.0f} MiB, after step 1 {trace[0]:.0f} MiB")
    print(f"  RSS at the end {trace[-1]:.0f} MiB, peak over the episode {max(trace):.0f} MiB")
    print(f"  growth over the episode {growth:.1f} MiB (target <= {TARGET_MB:.0f})")
    print(
        f"  current model: {sizes[0]['params']:,} params (widest layer {sizes[0]['widest']}) after"
        f" step 1, {at_peak['params']:,} (widest {at_peak['widest']}) at the RSS peak,"
        f" {max(z['params'] for z in sizes):,} at most"
    )
    print(f"  process peak (ru_maxrss, includes data loading) {peak:.0f} MiB")
    print(
        json.dumps(
            {
                "benchmark": "valp_memory",
                "env": args.env,
                "env_kwargs": json.loads(args.env_kwargs),
                "steps": args.steps,
                "rss_after_reset_mb": after_reset,
                "rss_after_step1_mb": trace[0],
                "rss_end_mb": trace[-1],
                "growth_mb": growth,
                "params_step1": sizes[0]["params"],
                "params_at_peak": at_peak["params"],
                "widest_at_peak": at_peak["widest"],
                "process_peak_mb": peak,
                "wall_s": wall,
                "bound_heap": args.bound_heap,
                "meets_target": growth <= TARGET_MB,
            }
        )
    )


if __name__ == "__main__":
    main()
