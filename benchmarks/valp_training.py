"""VALP training speed against a hand-written torch module, and peak memory of a paper-size VALP.

Throughput. One VALP (shared 2x64 mlp body, classifier and regressor heads on it, a sampler from
the pixels; the ``image-multitask`` task on digits) is trained with :func:`nasgym.valp.train.train`
and, side by side, a hand-written ``nn.Module`` with exactly the same layers, trained the same way
(same batches, per-output fused Adam, per-output gradients on the shared graph with outputs that
share no parameter batched into one gradient call, same losses, one CPU thread). Repetitions alternate between the two; the figure is the median per repetition of
the training thread's CPU time (``time.thread_time``), which other processes on shared cores do
not inflate; wall times are reported too. ``ratio`` = VALP CPU time / hand-written CPU time for
the same number of steps (lower is better; target <= 1.15, at most 15 % slower than hand-written
code). Throughputs are samples per CPU-second.

Memory. A paper-size VALP (6 networks, 3 layers of 64 each) is trained on digits; reported:
tracemalloc peak of Python allocations during training, and the growth of the process's peak
resident set (``ru_maxrss``) during training, both in MiB.

Run: ``python benchmarks/valp_training.py [--quick]``; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.data import load_dataset  # noqa: E402
from nasgym.tasks import TaskData, make_task  # noqa: E402
from nasgym.valp import VALP, Connection, Layer, Network, OutputHParams, build_model  # noqa: E402
from nasgym.valp.train import train  # noqa: E402


def bench_valp(task) -> VALP:
    """The throughput VALP: x -> n:0 mlp(64 relu, 64 relu) -> n:1 classifier(32 relu) -> class,
    n:0 -> n:2 regressor(32 relu) -> hist, x -> n:3 sampler(latent 8, 64 relu) -> sample."""
    nets = (
        Network("n:0", "mlp", (Layer(64, "relu"), Layer(64, "relu"))),
        Network("n:1", "classifier", (Layer(32, "relu"),), out_size=10),
        Network("n:2", "regressor", (Layer(32, "relu"),), out_size=8),
        Network("n:3", "sampler", (Layer(64, "relu"),), out_size=64, latent=8),
    )
    conns = [
        ("i:x", "n:0"),
        ("n:0", "n:1"),
        ("n:0", "n:2"),
        ("i:x", "n:3"),
        ("n:1", "o:class"),
        ("n:2", "o:hist"),
        ("n:3", "o:sample"),
    ]
    hp = {s.name: OutputHParams(1e-3, "adam") for s in task.outputs}
    return VALP(task.inputs, task.outputs, nets, tuple(Connection(*c) for c in conns), hp, 64)


def paper_valp(task) -> VALP:
    """6 networks of 3 layers of 64: two mlp bodies, two classifiers, a regressor, a sampler."""
    body = tuple(Layer(64, "relu") for _ in range(3))
    nets = (
        Network("n:0", "mlp", body),
        Network("n:1", "mlp", body),
        Network("n:2", "classifier", body, out_size=10),
        Network("n:3", "classifier", body, out_size=10),
        Network("n:4", "regressor", body, out_size=8),
        Network("n:5", "sampler", body, out_size=64, latent=8),
    )
    conns = [
        ("i:x", "n:0"),
        ("i:x", "n:1"),
        ("n:0", "n:2"),
        ("n:1", "n:3"),
        ("n:0", "n:4"),
        ("n:1", "n:4"),
        ("i:x", "n:5"),
        ("n:2", "o:class"),
        ("n:3", "o:class"),
        ("n:4", "o:hist"),
        ("n:5", "o:sample"),
    ]
    hp = {s.name: OutputHParams(1e-3, "adam") for s in task.outputs}
    return VALP(task.inputs, task.outputs, nets, tuple(Connection(*c) for c in conns), hp, 64)


class HandWritten(nn.Module):
    """The throughput VALP written by hand with ``nn.Linear`` layers."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.cls = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        self.reg = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
        self.mu, self.logvar = nn.Linear(64, 8), nn.Linear(64, 8)
        self.dec = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64))

    def forward(self, x, eps):
        h = self.body(x)
        mu, logvar = self.mu(x), self.logvar(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.cls(h), self.reg(h), self.dec(z), mu, logvar


def train_handwritten(
    model: HandWritten, data: TaskData, steps: int, gen: torch.Generator, bs: int = 64
) -> None:
    """The per-output training scheme of the VALP paper, written directly."""
    groups = {
        "class": [*model.body.parameters(), *model.cls.parameters()],
        "hist": [*model.body.parameters(), *model.reg.parameters()],
        "sample": [*model.mu.parameters(), *model.logvar.parameters(), *model.dec.parameters()],
    }
    opts = {k: torch.optim.Adam(p, lr=1e-3, fused=True) for k, p in groups.items()}
    x_all, y_all = data.inputs["x"], data.targets
    n, pos, ep = len(data), 0, None
    for _ in range(steps):
        if ep is None or pos + bs > n:
            perm = torch.randperm(n, generator=gen)
            ep = (x_all[perm], y_all["class"][perm], y_all["hist"][perm], y_all["sample"][perm])
            pos = 0
        x, yc, yh, ys = (t[pos : pos + bs] for t in ep)
        pos += bs
        eps = torch.randn(bs, 8, generator=gen)
        logits, values, pix, mu, logvar = model(x, eps)
        losses = {
            "class": F.cross_entropy(logits, yc),
            "hist": F.mse_loss(values, yh),
            "sample": (
                F.binary_cross_entropy_with_logits(pix, ys, reduction="sum")
                - 0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar))
            )
            / bs,
        }
        vals = torch.stack([v.detach() for v in losses.values()])
        if not bool(torch.isfinite(vals).all()):
            break
        # class and sample share no parameter: one gradient call for both (exact), one for hist
        first = groups["class"] + groups["sample"]
        g1 = torch.autograd.grad(losses["class"] + losses["sample"], first, retain_graph=True)
        g2 = torch.autograd.grad(losses["hist"], groups["hist"])
        n_class = len(groups["class"])
        per_output = {"class": g1[:n_class], "sample": g1[n_class:], "hist": g2}
        for k in ("class", "sample", "hist"):
            for p, g in zip(groups[k], per_output[k], strict=True):
                p.grad = g
            opts[k].step()


def _hand_model(seed: int) -> HandWritten:
    hand = HandWritten()
    init = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # torch's default init, drawn from our generator
        for lin in hand.modules():
            if isinstance(lin, nn.Linear):
                b = lin.in_features**-0.5
                lin.weight.uniform_(-b, b, generator=init)
                lin.bias.uniform_(-b, b, generator=init)
    return hand


def throughput(task, data: TaskData, steps: int, reps: int) -> dict[str, float]:
    """Median CPU (thread) time and wall time of ``steps`` training steps, interleaved."""
    valp = bench_valp(task)
    cpu: dict[str, list[float]] = {"valp": [], "hand": []}
    wall: dict[str, list[float]] = {"valp": [], "hand": []}
    for rep in range(reps + 1):  # the first repetition warms up and is dropped
        for which in ("valp", "hand") if rep % 2 == 0 else ("hand", "valp"):
            gen = torch.Generator().manual_seed(rep)
            if which == "valp":
                model = build_model(valp, torch.Generator().manual_seed(rep))
                c0, w0 = time.thread_time(), time.perf_counter()
                train(model, data, steps, gen, threads=None)
            else:
                hand = _hand_model(rep)
                c0, w0 = time.thread_time(), time.perf_counter()
                train_handwritten(hand, data, steps, gen)
            if rep > 0:
                cpu[which].append(time.thread_time() - c0)
                wall[which].append(time.perf_counter() - w0)
    med = {
        f"{k}_{w}": statistics.median(t[w])
        for k, t in (("cpu", cpu), ("wall", wall))
        for w in ("valp", "hand")
    }
    return {
        "steps": steps,
        "reps": reps,
        "batch_size": 64,
        "valp_cpu_s": med["cpu_valp"],
        "hand_cpu_s": med["cpu_hand"],
        "valp_wall_s": med["wall_valp"],
        "hand_wall_s": med["wall_hand"],
        "valp_samples_per_s": steps * 64 / med["cpu_valp"],
        "hand_samples_per_s": steps * 64 / med["cpu_hand"],
        "ratio": med["cpu_valp"] / med["cpu_hand"],
        "ratio_wall": med["wall_valp"] / med["wall_hand"],
        "ratio_per_rep": [v / h for v, h in zip(cpu["valp"], cpu["hand"], strict=True)],
    }


def memory(task, data: TaskData, steps: int) -> dict[str, float]:
    valp = paper_valp(task)
    # warm-up on another model: one-time imports and caches are not training memory
    train(
        build_model(valp, torch.Generator().manual_seed(1)),
        data,
        2,
        torch.Generator(),
        threads=None,
    )
    model = build_model(valp, torch.Generator().manual_seed(0))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0 = time.perf_counter()
    res = train(model, data, steps, torch.Generator().manual_seed(0), threads=None)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n_params = sum(p.numel() for p in model.parameters())
    return {
        "networks": len(model.valp.networks),
        "params": n_params,
        "steps": res.steps,
        "tracemalloc_peak_mib": peak / 2**20,
        "maxrss_delta_mib": (rss1 - rss0) / 1024,
        "maxrss_mib": rss1 / 1024,
        "train_s_traced": wall,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # both sides single-threaded (what nasgym's train() uses on CPU)
    ds = load_dataset("digits", seed=0)
    task = make_task("image-multitask", ds)
    data = task.prepare(ds.train)
    steps, reps = (100, 3) if args.quick else (400, 7)
    mem = memory(task, data, 50 if args.quick else 200)
    print(
        f"paper-size VALP ({mem['networks']} networks, {mem['params']} parameters), "
        f"{mem['steps']} steps: tracemalloc peak {mem['tracemalloc_peak_mib']:.2f} MiB, "
        f"max RSS growth {mem['maxrss_delta_mib']:.1f} MiB (max RSS {mem['maxrss_mib']:.0f} MiB)"
    )
    thr = throughput(task, data, steps, reps)
    print(f"training, {steps} steps x batch 64, median of {reps} interleaved reps (CPU time):")
    print(
        f"  VALP from descriptor: {thr['valp_cpu_s']:.3f} s  ({thr['valp_samples_per_s']:.0f} samples/s)"
    )
    print(
        f"  hand-written module:  {thr['hand_cpu_s']:.3f} s  ({thr['hand_samples_per_s']:.0f} samples/s)"
    )
    print(
        f"  ratio VALP / hand-written CPU time: {thr['ratio']:.3f}  (target <= 1.15); "
        f"wall-time ratio {thr['ratio_wall']:.3f}"
    )
    result = {
        "benchmark": "valp_training",
        "quick": args.quick,
        "throughput": thr,
        "memory": mem,
        "meets_target": thr["ratio"] <= 1.15,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
