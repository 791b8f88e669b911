"""What ``nasgym._memory.bound_heap`` costs a convolutional training loop in the same process.

``bound_heap`` makes glibc serve every block of 1 MiB or more by ``mmap`` (freed memory goes back
to the system: a VALP episode's RSS growth falls from about 50 to 30 MiB, at the same step time,
``benchmarks/valp_memory.py --bound-heap``). Each such block then costs fresh page faults. This
script times a small CNN (two 3x3 convolutions, 16 channels, Adam) on 128 random 28x28 images,
whose activations are about 6 MiB, for ``--steps`` steps, in fresh processes without and with
``bound_heap``, alternating ``--repeats`` times, one torch thread.

    python benchmarks/heap_threshold.py [--steps 60] [--repeats 4]

Prints the times, then one JSON line with the median ratio (with / without).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

LOOP = """
import sys, time, torch, torch.nn as nn
sys.path.insert(0, {root!r})
if {bound}:
    from nasgym._memory import bound_heap
    assert bound_heap(), "bound_heap was not applied (not glibc, or MALLOC_MMAP_THRESHOLD_ set)"
torch.set_num_threads(1)
torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(16, 10),
)
opt = torch.optim.Adam(net.parameters())
x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
start = time.perf_counter()
for _ in range({steps}):
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
print(time.perf_counter() - start)
"""


def timed(bound: bool, steps: int) -> float:
    """Seconds for ``steps`` training steps in a fresh process."""
    code = LOOP.format(root=str(ROOT), bound=bound, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    """Time both; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.repeats):  # alternating, so drifting machine load hits both
        times["without"].append(timed(False, args.steps))
        times["with"].append(timed(True, args.steps))
    ratios = [w / o for w, o in zip(times["with"], times["without"], strict=True)]
    for k, v in times.items():
        print(f"{k:>7} bound_heap: " + ", ".join(f"{t:.2f}" for t in v) + " s")
    print(f"median ratio with / without: {np.median(ratios):.2f}")
    out = {"benchmark": "heap_threshold", "steps": args.steps, **times}
    out["ratio_median"] = float(np.median(ratios))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
