"""What ``nasgym._memory``'s heap bounds cost a convolutional training loop in the same process.

``bound_heap`` makes glibc serve every block of 1 MiB or more by ``mmap`` for the rest of the
process (freed memory goes back to the system: a VALP episode's RSS grows less,
``benchmarks/valp_memory.py``). Each such block then costs fresh page faults. ``bounded_heap``
(what the VALP env applies to its resets and steps) does the same inside a block only, then
fixes the threshold at 32 MiB. This script times a small CNN (two 3x3 convolutions, 16 channels,
Adam) on 128 random 28x28 images, whose activations are about 6 MiB, for ``--steps`` steps, in
fresh processes: ``without`` either; with ``bound_heap`` called first; and ``scoped``, after a
``bounded_heap`` block that allocated and freed 8 MB (as a VALP step before it would).
Variants alternate ``--repeats`` times; one torch thread.

    python benchmarks/heap_threshold.py [--steps 60] [--repeats 4]

Prints the times, then one JSON line with each variant's median ratio to ``without``.
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
from nasgym._memory import bound_heap, bounded_heap
if {variant!r} == "bound_heap":
    assert bound_heap(), "bound_heap was not applied (not glibc, or MALLOC_MMAP_THRESHOLD_ set)"
if {variant!r} == "scoped":
    with bounded_heap() as applied:
        assert applied, "bounded_heap was not applied (not glibc, or MALLOC_MMAP_THRESHOLD_ set)"
        blocks = [torch.ones(2**20) for _ in range(2)]  # 2 x 4 MiB, freed inside the block
        del blocks
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


VARIANTS = ("without", "bound_heap", "scoped")


def timed(variant: str, steps: int) -> float:
    """Seconds for ``steps`` training steps in a fresh process."""
    code = LOOP.format(root=str(ROOT), variant=variant, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    """Time both; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):  # alternating, so drifting machine load hits each alike
        for variant in VARIANTS:
            times[variant].append(timed(variant, args.steps))
    out: dict = {"benchmark": "heap_threshold", "steps": args.steps, **times}
    for k, v in times.items():
        print(f"{k:>10}: " + ", ".join(f"{t:.2f}" for t in v) + " s")
    for k in VARIANTS[1:]:
        ratio = float(np.median([a / b for a, b in zip(times[k], times["without"], strict=True)]))
        out[f"ratio_{k}"] = ratio
        print(f"median ratio {k} / without: {ratio:.2f}")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
