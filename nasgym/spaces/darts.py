"""DARTS-topology cell spaces: ``darts`` (DARTS' op set) and ``tnd`` (the TND-NAS op sets).

Both have a normal and a reduction cell with 2 input nodes (0, 1) and 4 intermediate nodes
(2..5); every intermediate node has an edge from each earlier node: 14 edges per cell,
28 decisions (the 14 normal edges first, then the 14 reduction edges).

Validity: every intermediate node of every cell has at least one input edge whose op is not
``none`` (otherwise the node is constant zero and the cell output loses a quarter of its
channels for nothing).
"""

from __future__ import annotations

from nasgym.spaces import register_space
from nasgym.spaces.base import CellSpace

#: DARTS' PRIMITIVES, in DARTS' order
DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

#: TND-NAS normal-cell op set
TND_NORMAL_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "conv_3x3",
    "conv_1x1",
    "conv_3x1_1x3",
)

#: TND-NAS reduction-cell op set
TND_REDUCE_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "avg_pool_3x3",
    "max_pool_3x3",
    "max_pool_5x5",
    "max_pool_7x7",
)

_DARTS_EDGES: tuple[tuple[int, int], ...] = tuple(
    (src, dst) for dst in range(2, 6) for src in range(dst)
)


class _DartsTopology(CellSpace):
    """Normal + reduction cells, 2 inputs + 4 intermediate nodes, 14 edges per cell."""

    cell_types = ("normal", "reduce")
    n_nodes = 6
    edges = _DARTS_EDGES

    def _valid_ops(self, ops: tuple[str, ...]) -> bool:
        n = len(self.edges)
        for c in range(len(self.cell_types)):
            cell = ops[c * n : (c + 1) * n]
            for dst in range(2, self.n_nodes):
                if all(
                    op == "none" for (_s, d), op in zip(self.edges, cell, strict=True) if d == dst
                ):
                    return False
        return True


@register_space("darts")
class DartsSpace(_DartsTopology):
    """DARTS cells with DARTS' 8 primitives in both cell types.

    String: ``normal:|op~0|op~1|+|op~0|op~1|op~2|+...;reduce:|...|`` (one group per
    intermediate node 2..5, sources in increasing order).
    """

    OPS = {"normal": DARTS_OPS, "reduce": DARTS_OPS}


@register_space("tnd")
class TNDSpace(_DartsTopology):
    """DARTS topology with the TND-NAS op sets (10 normal ops, 6 reduction ops).

    String format as for ``darts``.
    """

    OPS = {"normal": TND_NORMAL_OPS, "reduce": TND_REDUCE_OPS}
