"""The weight-sharing supernet of a DARTS-topology cell space, and the fixed network of one cell.

:class:`Supernet` stacks ``n_cells`` cells (reduction cells at depths ``n//3`` and ``2n//3``,
as in DARTS) after a 3x3 conv stem, then global average pooling and a linear classifier. Every
edge of every cell holds one module per *allowed* op of its decision (a ``ModuleDict`` keyed by
op name), so a search stage whose ops were dropped builds only what it can still use.

Two forwards share the weights:

- ``model(x, ops)``: single-path, one op per decision (``ops`` aligned with
  ``space.decisions``, like :attr:`nasgym.spaces.Arch.ops`); ``none`` edges are skipped.
- ``model.forward_mixed(x, weights)``: the DARTS mixed op, every allowed op of every edge,
  summed with ``weights[d]`` (one row per decision).

The same class with one allowed op per decision and ``batch_stats=False`` is the derived
network trained from scratch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from nasgym.spaces import CellSpace
from nasgym.spaces.ops import FactorizedReduce, ReLUConvBN, is_pool, make_op


def reduction_layers(n_cells: int) -> tuple[int, ...]:
    """Indices of the reduction cells among ``n_cells`` cells (DARTS: ``n//3`` and ``2n//3``)."""
    if not isinstance(n_cells, int) or n_cells < 3:
        raise ValueError(
            f"n_cells must be an int >= 3 (a normal and two reduction cells), got {n_cells!r}"
        )
    return (n_cells // 3, 2 * n_cells // 3)


def check_darts_topology(space: CellSpace) -> int:
    """Number of input nodes of ``space``'s cells; ValueError if the supernet cannot build it."""
    if tuple(space.cell_types) != ("normal", "reduce"):
        hint = (
            " The NAS-Bench-201 space is not supported by the supernet (its single-input cells "
            "and residual reduction blocks are a different macro-architecture); search it "
            "with the tabular nasgym/NB201-v0."
            if space.name == "nb201"
            else ""
        )
        raise ValueError(
            f"the supernet needs a DARTS-topology space with cell types ('normal', 'reduce'), "
            f"got {space.name!r} with {tuple(space.cell_types)}; use 'tnd' or 'darts'.{hint}"
        )
    dsts = {d for _, d in space.edges}
    inputs = [n for n in range(space.n_nodes) if n not in dsts]
    if inputs != [0, 1] or any(s >= d for s, d in space.edges):
        raise ValueError(
            f"the supernet needs cells with input nodes 0 and 1 and edges src < dst; "
            f"space {space.name!r} has inputs {inputs}"
        )
    return len(inputs)


class SearchCell(nn.Module):
    """One DARTS cell: two preprocessed inputs, intermediate nodes summing their edges, concat."""

    def __init__(
        self,
        space: CellSpace,
        allowed: Sequence[Sequence[str]],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        affine: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.edge_list = tuple(space.edges)
        self.nodes = tuple(range(2, space.n_nodes))
        if reduction_prev:
            self.pre0: nn.Module = FactorizedReduce(c_prev_prev, c, affine)
        else:
            self.pre0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine)
        self.pre1 = ReLUConvBN(c_prev, c, 1, 1, 0, affine)
        self.edges = nn.ModuleList()
        for (src, _dst), names in zip(self.edge_list, allowed, strict=True):
            stride = 2 if reduction and src < 2 else 1
            ops = nn.ModuleDict()
            for name in names:
                op = make_op(name, c, stride, affine)
                if is_pool(name):  # DARTS' MixedOp: a BN without affine after the pools
                    op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
                ops[name] = op
            self.edges.append(ops)
        self.out_channels = c * len(self.nodes)

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        ops: Sequence[str] | None = None,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Single-path when ``ops`` is given (one name per edge), else mixed with ``weights``."""
        states = {0: self.pre0(s0), 1: self.pre1(s1)}
        for node in self.nodes:
            total: torch.Tensor | None = None
            for e, (src, dst) in enumerate(self.edge_list):
                if dst != node:
                    continue
                h = states[src]
                if ops is not None:
                    if ops[e] == "none":
                        continue
                    out = self.edges[e][ops[e]](h)
                else:
                    assert weights is not None
                    out = sum(
                        w * op(h) for w, op in zip(weights[e], self.edges[e].values(), strict=True)
                    )
                total = out if total is None else total + out
            if total is None:  # every input edge is `none`: the node is zero
                first = next(e for e, (_s, d) in enumerate(self.edge_list) if d == node)
                total = self.edges[first]["none"](states[self.edge_list[first][0]])
            states[node] = total
        return torch.cat([states[n] for n in self.nodes], dim=1)


class Supernet(nn.Module):
    """Weight-sharing network over a DARTS-topology space (see the module docstring).

    ``allowed[d]``: op names instantiated for decision ``d`` (every op of the space when None).
    ``batch_stats=True`` (search) makes every BatchNorm normalise with the batch's statistics in
    training and evaluation, since shared ops see too few batches for running estimates.
    """

    def __init__(
        self,
        space: CellSpace,
        allowed: Sequence[Sequence[str]] | None = None,
        *,
        channels: int = 8,
        n_cells: int = 3,
        n_classes: int = 10,
        in_channels: int = 1,
        stem_multiplier: int = 3,
        affine: bool = False,
        batch_stats: bool = True,
    ) -> None:
        super().__init__()
        check_darts_topology(space)
        if not isinstance(channels, int) or channels < 2 or channels % 2:
            raise ValueError(f"channels must be an even int >= 2, got {channels!r}")
        self.space = space
        self.n_edges = len(space.edges)
        if allowed is None:
            allowed = [space.decision_ops(d) for d in range(space.n_decisions)]
        if len(allowed) != space.n_decisions:
            raise ValueError(f"allowed needs {space.n_decisions} op lists, got {len(allowed)}")
        self.allowed = tuple(tuple(a) for a in allowed)
        self.reductions = reduction_layers(n_cells)
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_pp, c_p, c = c_stem, c_stem, channels
        self.cells = nn.ModuleList()
        self.cell_types: list[str] = []
        reduction_prev = False
        for i in range(n_cells):
            reduction = i in self.reductions
            c = c * 2 if reduction else c
            ct = "reduce" if reduction else "normal"
            k = space.cell_types.index(ct)
            edge_ops = self.allowed[k * self.n_edges : (k + 1) * self.n_edges]
            cell = SearchCell(space, edge_ops, c_pp, c_p, c, reduction, reduction_prev, affine)
            self.cells.append(cell)
            self.cell_types.append(ct)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, n_classes)
        if batch_stats:
            use_batch_stats(self)

    def _cell_slice(self, i: int) -> slice:
        k = self.space.cell_types.index(self.cell_types[i])
        return slice(k * self.n_edges, (k + 1) * self.n_edges)

    def forward(self, x: torch.Tensor, ops: Sequence[str]) -> torch.Tensor:
        """Logits of the single path ``ops`` (one op name per decision)."""
        if len(ops) != len(self.allowed):
            raise ValueError(f"need {len(self.allowed)} op names, got {len(ops)}")
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, ops=ops[self._cell_slice(i)])
        return self.classifier(self.pool(s1).flatten(1))

    def forward_mixed(self, x: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits of the DARTS mixed-op network; ``weights[d]`` weighs decision d's allowed ops."""
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, weights=weights[self._cell_slice(i)])
        return self.classifier(self.pool(s1).flatten(1))


def use_batch_stats(module: nn.Module) -> None:
    """Make every BatchNorm of ``module`` use batch statistics, in training and evaluation."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw conv and linear weights (PyTorch's default scheme) from ``generator``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


__all__ = [
    "SearchCell",
    "Supernet",
    "check_darts_topology",
    "init_weights",
    "reduction_layers",
    "use_batch_stats",
]
