"""Cell search spaces, registered by name.

Built-in spaces: ``nb201`` (NAS-Bench-201: 4 nodes, 6 edges, 5 ops), ``darts`` (DARTS normal
and reduction cells, 14 edges each, 8 ops) and ``tnd`` (DARTS topology with the TND-NAS op
sets). ``get_space(name)`` builds one; an :class:`Arch` is the immutable architecture value.

    >>> from nasgym.spaces import get_space
    >>> space = get_space("nb201")
    >>> arch = space.from_indices([3, 1, 0, 2, 4, 3])
    >>> arch.to_str()
    '|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|'
    >>> space.from_str(arch.to_str()) == arch
    True

Register your own space by subclassing :class:`CellSpace` (set ``cell_types``, ``n_nodes``,
``edges``, ``OPS`` and, optionally, a topology rule in ``_valid_ops``)::

    import numpy as np
    from nasgym.spaces import CellSpace, get_space, register_space

    @register_space("tiny")
    class TinySpace(CellSpace):
        \"\"\"Two nodes after the input, three edges, three ops.\"\"\"
        cell_types = ("normal",)
        n_nodes = 3
        edges = ((0, 1), (0, 2), (1, 2))
        OPS = {"normal": ("none", "skip_connect", "conv_3x3")}

        def _valid_ops(self, ops):
            return ops[2] != "none"  # the last edge must carry an op

    space = get_space("tiny")
    arch = space.sample(np.random.default_rng(0))
    assert space.from_str(arch.to_str()) == arch

The default string form is ``cell:|op~src|...|+|...|`` per cell type (one ``|...|`` group per
destination node, sources in increasing order), cell types joined by ``;``.
"""

from __future__ import annotations

from typing import Any

from nasgym.registry import Registry
from nasgym.spaces.base import Arch, CellSpace

SEARCH_SPACES: Registry[type[CellSpace]] = Registry("search space")


def register_space(
    name: str, cls: type[CellSpace] | None = None, *, overwrite: bool = False
) -> Any:
    """Register a :class:`CellSpace` subclass under ``name`` (usable as a decorator)."""
    return SEARCH_SPACES.register_subclass(name, cls, base=CellSpace, overwrite=overwrite)


def get_space(name: str) -> CellSpace:
    """A new instance of the space registered as ``name`` (KeyError with suggestions if unknown)."""
    return SEARCH_SPACES.get(name)()


def list_spaces() -> list[str]:
    """Names of every registered search space."""
    return SEARCH_SPACES.names()


# Importing the built-in modules registers their spaces.
from nasgym.spaces import darts as _darts  # noqa: E402, F401
from nasgym.spaces import nb201 as _nb201  # noqa: E402, F401

__all__ = ["SEARCH_SPACES", "Arch", "CellSpace", "get_space", "list_spaces", "register_space"]
