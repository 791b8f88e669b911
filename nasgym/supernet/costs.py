"""Measured (not differentiated) costs of a sub-network: parameters, MACs and latency.

:class:`CostTable` holds, for one supernet configuration, the parameter count and the
multiply-accumulates (MACs, of convs and the classifier, for one image) of the shared part
(stem, cell preprocessing, classifier) and of every op on every edge of every cell. The cost of
a single path is the shared part plus the chosen ops; ``none`` costs nothing.

Latency is either a deterministic proxy, ``ms_per_mmac * MACs``, or the measured wall-clock
time of one forward of the path (:func:`measure_latency_ms`), which depends on the machine and
its load and is therefore not bit-reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nasgym.supernet.model import Supernet

#: default latency proxy: milliseconds per million MACs, a rough fit of batch-1 forwards of the
#: default ``tnd`` supernet paths on digits on a 2-core laptop CPU (3-12 ms for 0.3-1.2 M MACs);
#: it only sets the scale of the deterministic proxy
MS_PER_MMAC = 10.0


@dataclass(frozen=True)
class CostTable:
    """Params and MACs of the shared part and of each (cell, edge, op) of one configuration."""

    cell_types: tuple[str, ...]
    n_edges: int
    base_params: int
    base_macs: int
    op_params: tuple[tuple[dict[str, int], ...], ...]  # [cell][edge][op]
    op_macs: tuple[tuple[dict[str, int], ...], ...]

    def path_cost(self, ops: Sequence[str], cell_type_order: Sequence[str]) -> tuple[int, int]:
        """``(params, macs)`` of the single path ``ops`` (aligned with the space's decisions)."""
        params, macs = self.base_params, self.base_macs
        for i, ct in enumerate(self.cell_types):
            k = cell_type_order.index(ct)
            cell_ops = ops[k * self.n_edges : (k + 1) * self.n_edges]
            for e, op in enumerate(cell_ops):
                params += self.op_params[i][e][op]
                macs += self.op_macs[i][e][op]
        return params, macs

    def mean_cost(
        self, allowed: Sequence[Sequence[str]], cell_type_order: Sequence[str]
    ) -> tuple[float, float]:
        """Expected ``(params, macs)`` of a path drawn uniformly over ``allowed`` per decision."""
        params, macs = float(self.base_params), float(self.base_macs)
        for i, ct in enumerate(self.cell_types):
            k = cell_type_order.index(ct)
            for e in range(self.n_edges):
                names = allowed[k * self.n_edges + e]
                params += float(np.mean([self.op_params[i][e][n] for n in names]))
                macs += float(np.mean([self.op_macs[i][e][n] for n in names]))
        return params, macs


def _owner(name: str) -> tuple[int, int, str] | None:
    """``(cell, edge, op)`` of a module named ``cells.i.edges.e.op...``; None for shared parts."""
    parts = name.split(".")
    if len(parts) >= 5 and parts[0] == "cells" and parts[2] == "edges":
        return int(parts[1]), int(parts[3]), parts[4]
    return None


def build_cost_table(model: Supernet, image_shape: tuple[int, int], in_channels: int) -> CostTable:
    """Count params and per-image MACs of every part of ``model`` (one mixed forward)."""
    n_cells, n_edges = len(model.cells), model.n_edges
    op_params = [[dict.fromkeys(cell.edges[e], 0) for e in range(n_edges)] for cell in model.cells]
    op_macs = [[dict.fromkeys(cell.edges[e], 0) for e in range(n_edges)] for cell in model.cells]
    base = {"params": 0, "macs": 0}
    for name, p in model.named_parameters():
        owner = _owner(name)
        if owner is None:
            base["params"] += p.numel()
        else:
            op_params[owner[0]][owner[1]][owner[2]] += p.numel()

    hooks = []
    batch = 2  # BatchNorm with batch statistics needs more than one value per channel

    def hook_for(name: str):
        owner = _owner(name)

        def hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            if isinstance(mod, nn.Conv2d):
                k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
                macs = out.numel() // batch * k
            else:
                macs = mod.in_features * mod.out_features
            if owner is None:
                base["macs"] += macs
            else:
                op_macs[owner[0]][owner[1]][owner[2]] += macs

        return hook

    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d | nn.Linear):
            hooks.append(mod.register_forward_hook(hook_for(name)))
    try:
        weights = [torch.ones(len(a)) for a in model.allowed]
        x = torch.zeros(batch, in_channels, *image_shape, device=next(model.parameters()).device)
        with torch.no_grad():
            model.forward_mixed(x, weights)
    finally:
        for h in hooks:
            h.remove()
    assert len(op_params) == n_cells
    return CostTable(
        cell_types=tuple(model.cell_types),
        n_edges=n_edges,
        base_params=base["params"],
        base_macs=base["macs"],
        op_params=tuple(tuple(c) for c in op_params),
        op_macs=tuple(tuple(c) for c in op_macs),
    )


def measure_latency_ms(
    model: nn.Module, ops: Sequence[str], x: torch.Tensor, repeats: int = 5
) -> float:
    """Median wall-clock milliseconds of ``model(x, ops)`` over ``repeats`` runs (after one)."""
    times = []
    with torch.no_grad():
        model(x, ops)
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            model(x, ops)
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


__all__ = ["MS_PER_MMAC", "CostTable", "build_cost_table", "measure_latency_ms"]
