"""Supernet training step: single-path sampling vs. the DARTS mixed-op forward; search wall time.

    python benchmarks/supernet.py [--quick] [--threads 1] [--device cpu] [--agent reinforce]
        [--env-kwargs '{"dataset": "fashion-mnist", "data_dir": "../shared/data"}']

Part 1, side by side in one run at the same configuration (``tnd`` space, C=8, 5 cells: the
deepest default stage of ``nasgym/Cell-v0``; digits; batch 64; every op of the space built):
one weight-training step (forward, backward, SGD step) of

- *single path*: one uniformly sampled op per edge (what the env trains), and
- *mixed*: DARTS' continuous relaxation, every op of every edge weighted by ``softmax(alpha)``.

Time is the median wall-clock of ``--steps`` steps after 3 warm-up steps. Peak memory: on CPU
each mode runs in a fresh subprocess, resets the kernel's peak-RSS mark once the data is
loaded and reports the peak resident set size (``VmHWM``) above the resident size at that
point (model, optimiser state, activations, gradients, and the math libraries' own buffers);
on CUDA ``torch.cuda.max_memory_allocated`` above the allocation before the model was built.
Also reported, exact and machine-independent: the MB of activations autograd saves for the
backward of one forward (single path: the sampled path's; mixed: every op's, the DARTS memory
cost). The single-path figure is of one sampled path (uniform sample, seed 0).

Part 2: wall time of one search episode of ``nasgym/Cell-v0`` on digits with default settings
(3 stages x 20 steps, 60 steps) driven by the ``--agent`` (default ``reinforce``), from
``reset`` to the end of the last stage, on ``--device``; ``--env-kwargs`` (JSON) changes the
env's arguments, e.g. its data set. ``--quick`` uses fewer timing steps and 3 steps per
stage. Torch runs with ``--threads`` intra-op threads (default 1). Prints the figures, then one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from nasgym.bench.jobs import BenchError, parse_env_kwargs  # noqa: E402
from nasgym.spaces import get_space  # noqa: E402
from nasgym.supernet import (  # noqa: E402
    Batcher,
    Supernet,
    init_weights,
    load_image_data,
    sgd,
    train_batch,
    uniform_path,
)

CONFIG = {"space": "tnd", "dataset": "digits", "channels": 8, "n_cells": 5, "batch_size": 64}


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MB (Linux), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0; no-op elsewhere)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _saved_activation_mb(forward, x: torch.Tensor, y: torch.Tensor) -> float:
    """MB of distinct tensor storages autograd saves for the backward of one forward."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(forward(x), y)
    del loss
    return sum(storages.values()) / 2**20


def _step_bench(mode: str, steps: int, threads: int, device: str) -> dict[str, Any]:
    """Median step time (ms) and peak memory (MB) of one training mode, in this process."""
    torch.set_num_threads(threads)
    dev = torch.device(device)
    space = get_space(CONFIG["space"])
    data = load_image_data(CONFIG["dataset"], device=dev)
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    batches = Batcher(data.train, CONFIG["batch_size"], gen)
    x0, _ = batches.next()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    _reset_peak_rss()
    base_rss = _status_mb("VmRSS")
    model = Supernet(space, channels=CONFIG["channels"], n_cells=CONFIG["n_cells"])
    init_weights(model, gen)
    model.to(dev)
    params = list(model.parameters())
    opt = sgd(model, 0.05)
    alphas = [torch.zeros(len(a), device=dev, requires_grad=True) for a in model.allowed]

    def forward(x: torch.Tensor) -> torch.Tensor:
        if mode == "single":
            return model(x, uniform_path(model.allowed, rng))
        return model.forward_mixed(x, [torch.softmax(a, 0) for a in alphas])

    saved = _saved_activation_mb(forward, *batches.next())
    times = []
    model.train()
    for i in range(steps + 3):
        x, y = batches.next()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        train_batch(forward, params, opt, x, y)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20 - base
    else:
        peak = _status_mb("VmHWM") - base_rss
    del x0
    return {
        "saved_activations_mb": saved,
        "step_ms_median": float(np.median(times)),
        "step_ms_min": float(np.min(times)),
        "peak_mem_mb": float(peak),
        "steps": steps,
    }


def _child(mode: str, steps: int, threads: int, device: str, queue: mp.Queue) -> None:
    queue.put(_step_bench(mode, steps, threads, device))


def step_comparison(steps: int, threads: int, device: str) -> dict[str, dict[str, Any]]:
    """Both modes, each in a fresh subprocess (so peak RSS is its own)."""
    ctx = mp.get_context("spawn")
    out = {}
    for mode in ("single", "mixed"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(mode, steps, threads, device, queue))
        proc.start()
        out[mode] = queue.get()
        proc.join()
    return out


def search_episode(
    agent_name: str,
    threads: int,
    quick: bool,
    seed: int = 0,
    device: str = "cpu",
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wall time of one ``nasgym/Cell-v0`` episode (defaults, then ``env_kwargs``) driven by
    ``agent_name`` on ``device``."""
    torch.set_num_threads(threads)
    from agents import make_agent
    from nasgym.envs.cell import CellEnv

    kwargs = {"stage_steps": 3} if quick else {}
    kwargs |= {"device": device, **(env_kwargs or {})}
    t0 = time.perf_counter()
    env = CellEnv(torch_threads=threads, **kwargs)
    t_make = time.perf_counter() - t0
    agent = make_agent(agent_name, env, seed=seed)
    t0 = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    t_reset = time.perf_counter() - t0
    step_times, done, info, n = [], False, {}, 0
    while not done:
        action, _ = agent.predict(obs)
        ts = time.perf_counter()
        next_obs, reward, done, trunc, info = env.step(action)
        step_times.append(time.perf_counter() - ts)
        agent.update(obs, action, reward, next_obs, done, trunc, info)
        obs, n = next_obs, n + 1
    wall = time.perf_counter() - t0
    return {
        "agent": agent_name,
        "steps": n,
        "make_s": t_make,
        "reset_s": t_reset,
        "wall_s": wall,
        "step_s_median": float(np.median(step_times)),
        "step_s_max": float(np.max(step_times)),
        "train_batches": int(info["cost"]),
        "best_reward": float(info["best_reward"]),
        "best_val_acc": float(info["best_val_acc"]),
        "best_arch": info["best_arch"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both parts, print the figures and one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (smoke run)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps per mode")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--agent", default="reinforce", help="agent of the search episode")
    ap.add_argument("--env-kwargs", default="{}", help="Cell-v0 kwargs of the search (JSON)")
    args = ap.parse_args(argv)
    try:
        env_kwargs = parse_env_kwargs(args.env_kwargs)
    except BenchError as err:
        raise SystemExit(str(err)) from None
    steps = args.steps or (5 if args.quick else 30)

    print(f"config: {CONFIG}, threads={args.threads}, device={args.device}")
    cmp = step_comparison(steps, args.threads, args.device)
    for mode, r in cmp.items():
        print(
            f"{mode:>6}: step {r['step_ms_median']:8.1f} ms (median of {steps}, "
            f"min {r['step_ms_min']:.1f}), peak memory +{r['peak_mem_mb']:.1f} MB, "
            f"activations saved for backward {r['saved_activations_mb']:.2f} MB"
        )
    speedup = cmp["mixed"]["step_ms_median"] / cmp["single"]["step_ms_median"]
    mem_ratio = cmp["mixed"]["peak_mem_mb"] / max(cmp["single"]["peak_mem_mb"], 1e-9)
    act_ratio = cmp["mixed"]["saved_activations_mb"] / cmp["single"]["saved_activations_mb"]
    print(
        f"single path is {speedup:.1f}x faster per step, uses {mem_ratio:.1f}x less peak memory "
        f"and saves {act_ratio:.1f}x fewer activations"
    )

    search = search_episode(
        args.agent, args.threads, args.quick, device=args.device, env_kwargs=env_kwargs
    )
    print(
        f"search ({search['agent']}, {search['steps']} steps): {search['wall_s']:.1f} s "
        f"(reset {search['reset_s']:.2f} s, median step {search['step_s_median']:.3f} s, "
        f"max step {search['step_s_max']:.2f} s, env build {search['make_s']:.2f} s); "
        f"best reward {search['best_reward']:.3f}, val acc {search['best_val_acc']:.3f}"
    )
    result = {
        "benchmark": "supernet",
        "quick": args.quick,
        "config": CONFIG,
        "threads": args.threads,
        "device": args.device,
        "env_kwargs": env_kwargs,
        "single_path": cmp["single"],
        "mixed": cmp["mixed"],
        "speedup_single_vs_mixed": speedup,
        "peak_mem_ratio_mixed_vs_single": mem_ratio,
        "saved_activations_ratio_mixed_vs_single": act_ratio,
        "search": search,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
