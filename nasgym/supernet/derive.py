"""Train a derived architecture from scratch and evaluate it on the test split.

The derived network is the :class:`~nasgym.supernet.model.Supernet` macro with exactly one op
per edge (the architecture's), BatchNorm with affine parameters and running statistics, trained
with SGD (momentum 0.9, weight decay 3e-4, cosine learning rate, gradient clipping 5) on the
train split. Every edge keeps its chosen op (``none`` edges are absent); unlike DARTS there is no
top-2-inputs rule, because the architecture already chose ``none`` where it wanted no edge.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from nasgym.spaces import Arch, CellSpace
from nasgym.supernet.costs import build_cost_table
from nasgym.supernet.model import Supernet, init_weights
from nasgym.supernet.training import Batcher, ImageData, accuracy, sgd, train_batch


def build_derived(
    space: CellSpace, arch: Arch, channels: int, n_cells: int, n_classes: int, in_channels: int = 1
) -> Supernet:
    """The fixed network of ``arch`` (one op per edge, affine BN with running statistics)."""
    if not isinstance(arch, Arch) or arch.space != space.name:
        raise ValueError(f"expected an Arch of space {space.name!r}, got {arch!r}")
    return Supernet(
        space,
        [(op,) for op in arch.ops],
        channels=channels,
        n_cells=n_cells,
        n_classes=n_classes,
        in_channels=in_channels,
        affine=True,
        batch_stats=False,
    )


def train_from_scratch(
    space: CellSpace,
    arch: Arch,
    data: ImageData,
    *,
    channels: int = 8,
    n_cells: int = 5,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Train ``arch`` from scratch on ``data.train``; return test/val accuracy, params, MACs, time."""
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    gen = torch.Generator().manual_seed(int(seed))
    model = build_derived(space, arch, channels, n_cells, data.n_classes)
    init_weights(model, gen)  # on the CPU (CPU generator), then moved
    model.to(device)
    costs = build_cost_table(model, data.image_shape, 1)
    params, macs = costs.path_cost(arch.ops, space.cell_types)
    batches = Batcher(data.train, batch_size, gen)
    steps_per_epoch = max(1, len(data.train) // batches.batch_size)
    total = epochs * steps_per_epoch
    opt = sgd(model, lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1.0 + math.cos(math.pi * t / total))
    )
    ops = arch.ops
    t0 = time.perf_counter()
    model.train()
    loss = float("nan")
    for _ in range(total):
        x, y = batches.next()
        loss = train_batch(lambda inp: model(inp, ops), list(model.parameters()), opt, x, y)
        sched.step()
    train_time = time.perf_counter() - t0
    model.eval()
    return {
        "arch": arch.to_str(),
        "test_acc": accuracy(lambda inp: model(inp, ops), data.test),
        "val_acc": accuracy(lambda inp: model(inp, ops), data.val),
        "params": params / 1e6,
        "flops": macs / 1e6,
        "final_loss": loss,
        "epochs": epochs,
        "channels": channels,
        "n_cells": n_cells,
        "train_time_s": train_time,
    }


__all__ = ["build_derived", "train_from_scratch"]
