"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 ops, all 15,625 cells valid."""

from __future__ import annotations

from nasgym.spaces import register_space
from nasgym.spaces.base import Arch, CellSpace

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)


@register_space("nb201")
class NB201Space(CellSpace):
    """NAS-Bench-201 cells: edges (0,1), (0,2), (1,2), (0,3), (1,3), (2,3), ops from NB201_OPS.

    Strings use the NAS-Bench-201 format ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``. Every op
    tuple is valid (the benchmark tables hold all 5**6 cells, disconnected ones included).
    """

    cell_types = ("normal",)
    n_nodes = 4
    edges = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    OPS = {"normal": NB201_OPS}

    def to_str(self, arch: Arch) -> str:
        """The NAS-Bench-201 arch string, e.g. ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|``."""
        self._check_shape(arch)
        return self._cell_str(arch.ops)

    def from_str(self, s: str) -> Arch:
        """Parse a NAS-Bench-201 arch string."""
        if not isinstance(s, str):
            raise ValueError(f"architecture string must be a str, got {type(s).__name__}")
        return Arch(self.name, tuple(self._parse_cell(s.strip(), "normal")))
