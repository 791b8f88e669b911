"""Peak memory of one ``nasgym bench`` process across many runs, against a single run.

    python benchmarks/bench_memory.py [--runs 20] [--steps 1] [--dataset fashion-mnist]
                                      [--data-dir DIR] [--initial-batches 10] [--step-batches 5]

Runs, each in a fresh child process, a bench of one VALP-v0 run and a bench of ``--runs`` runs
(seeds 0..runs-1, agent ``random``, ``--steps`` steps each, serial backend) on the given data
set, and reports each child's peak RSS (``ru_maxrss``) and its RSS after every run. The target
(issue 11): the many-run bench peaks at <= 1.5x the single run. Ends with one JSON line.
Fashion-MNIST needs the IDX files under ``--data-dir`` or ``$NASGYM_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    """The current resident set size of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run the bench in this process; return its peak RSS and the RSS after each run."""
    sys.path.insert(0, str(ROOT))
    from nasgym.bench import BenchEntry, backends, run_bench

    kwargs = {
        "dataset": args.dataset,
        "initial_batches": args.initial_batches,
        "step_batches": args.step_batches,
    }
    if args.data_dir:
        kwargs["data_dir"] = args.data_dir
    after: list[float] = []
    run_serial = backends.run_serial

    def sink_wrapper(tasks, sink, on_error):  # type: ignore[no-untyped-def]
        def counting(rec: dict[str, Any]) -> None:
            sink(rec)
            if rec["type"] == "done":
                after.append(round(_rss_mib(), 1))

        run_serial(tasks, counting, on_error)

    backends.run_serial = sink_wrapper
    entry = BenchEntry("nasgym/VALP-v0", ("random",), tuple(range(args.runs)), kwargs, args.steps)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run_bench([entry], out, workers=1, progress=False, plots=False, quiet=True)
        wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"runs": args.runs, "peak_mib": round(peak, 1), "rss_after_run_mib": after,
            "wall_s": round(wall, 1)}  # fmt: skip


def _spawn(args: argparse.Namespace, runs: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--runs", str(runs), "--steps", str(args.steps),
           "--dataset", args.dataset, "--initial-batches", str(args.initial_batches),
           "--step-batches", str(args.step_batches)]  # fmt: skip
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure and print the figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=os.environ.get("NASGYM_DATA_DIR"))
    parser.add_argument("--initial-batches", type=int, default=10)
    parser.add_argument("--step-batches", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        res = child(args)
        print(json.dumps(res))
        return res
    one = _spawn(args, 1)
    many = _spawn(args, args.runs)
    ratio = many["peak_mib"] / one["peak_mib"]
    print(f"VALP-v0 on {args.dataset}, {args.steps} step(s) per run, serial bench in one process")
    print(f"  1 run:   peak RSS {one['peak_mib']:.0f} MiB ({one['wall_s']:.0f} s)")
    print(f"  {args.runs} runs: peak RSS {many['peak_mib']:.0f} MiB ({many['wall_s']:.0f} s)")
    print(f"  RSS after each run (MiB): {many['rss_after_run_mib']}")
    print(f"  ratio {ratio:.2f} (target <= 1.5)")
    result = {
        "dataset": args.dataset,
        "runs": args.runs,
        "steps": args.steps,
        "peak_one_mib": one["peak_mib"],
        "peak_many_mib": many["peak_mib"],
        "ratio": round(ratio, 2),
        "rss_after_run_mib": many["rss_after_run_mib"],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
