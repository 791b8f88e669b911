"""Base classes of cell search spaces: the :class:`CellSpace` description and the :class:`Arch` value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Arch:
    """An immutable, hashable cell architecture: one op name per decision of its space.

    ``ops[i]`` is the op chosen for ``space.decisions[i]`` (cell type, edge index).
    """

    space: str
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.ops, tuple):
            object.__setattr__(self, "ops", tuple(self.ops))

    def to_str(self) -> str:
        """Canonical string of the architecture (``from_str(to_str())`` round-trips)."""
        return _space_of(self.space).to_str(self)

    @property
    def key(self) -> str:
        """A string that identifies the architecture across spaces (for caches and dedup)."""
        return f"{self.space}:{self.to_str()}"

    def __str__(self) -> str:
        return self.to_str()


def _space_of(name: str) -> CellSpace:
    """The shared instance of the space registered as ``name`` (rebuilt if re-registered)."""
    from nasgym.spaces import SEARCH_SPACES

    cls = SEARCH_SPACES.get(name)
    inst = _INSTANCES.get(name)
    if inst is None or type(inst) is not cls:
        inst = cls()
        _INSTANCES[name] = inst
    return inst


_INSTANCES: dict[str, CellSpace] = {}


class CellSpace:
    """A cell search space: a DAG of ``n_nodes`` nodes whose ``edges`` each carry one op.

    Subclasses set the class attributes ``name`` (set by ``register_space``),
    ``cell_types``, ``n_nodes``, ``edges`` and ``OPS`` (cell type -> ordered op tuple),
    and may override :meth:`_valid_ops` (topology rule), :meth:`to_str` and
    :meth:`from_str`. Decisions are ordered cell type by cell type, edge by edge.
    """

    name: ClassVar[str] = ""
    cell_types: ClassVar[tuple[str, ...]] = ("normal",)
    n_nodes: ClassVar[int] = 0
    edges: ClassVar[tuple[tuple[int, int], ...]] = ()
    OPS: ClassVar[dict[str, tuple[str, ...]]] = {}

    # ----------------------------------------------------------------- layout
    def ops(self, cell_type: str = "normal") -> tuple[str, ...]:
        """The ordered op tuple of ``cell_type``: every index, one-hot and mask derives from it."""
        try:
            return self.OPS[cell_type]
        except KeyError:
            raise KeyError(
                f"space {self.name!r} has no cell type {cell_type!r}; use one of {self.cell_types}"
            ) from None

    @cached_property
    def decisions(self) -> tuple[tuple[str, int], ...]:
        """``(cell_type, edge index)`` of every decision, in action order."""
        return tuple((ct, e) for ct in self.cell_types for e in range(len(self.edges)))

    @cached_property
    def nvec(self) -> np.ndarray:
        """Number of ops of each decision (for ``gymnasium.spaces.MultiDiscrete``)."""
        return np.array([len(self.ops(ct)) for ct, _ in self.decisions], dtype=np.int64)

    @property
    def n_decisions(self) -> int:
        """Number of decisions (edges over all cell types)."""
        return len(self.decisions)

    @cached_property
    def mask_offsets(self) -> np.ndarray:
        """Start of each decision's slice in the flat concatenated op mask (length ``n_decisions + 1``)."""
        return np.concatenate([[0], np.cumsum(self.nvec)]).astype(np.int64)

    def decision_ops(self, i: int) -> tuple[str, ...]:
        """The op tuple of decision ``i``."""
        return self.ops(self.decisions[i][0])

    # ------------------------------------------------------------- conversion
    def from_indices(self, indices: Sequence[int] | np.ndarray) -> Arch:
        """The architecture whose decision ``i`` takes op ``indices[i]``; ValueError if out of range."""
        idx = np.asarray(indices).reshape(-1)
        if idx.shape[0] != self.n_decisions:
            raise ValueError(
                f"space {self.name!r} needs {self.n_decisions} op indices, got {idx.shape[0]}"
            )
        if not np.issubdtype(idx.dtype, np.integer):
            if not np.all(np.equal(np.mod(idx, 1), 0)):
                raise ValueError(f"op indices must be integers, got {idx.tolist()}")
            idx = idx.astype(np.int64)
        bad = np.flatnonzero((idx < 0) | (idx >= self.nvec))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"op index {int(idx[i])} of decision {i} is out of range [0, {int(self.nvec[i])}) "
                f"in space {self.name!r}"
            )
        return Arch(self.name, tuple(self.decision_ops(i)[int(k)] for i, k in enumerate(idx)))

    def to_indices(self, arch: Arch) -> np.ndarray:
        """Op index of every decision of ``arch`` (int64 array of length ``n_decisions``)."""
        self._check_shape(arch)
        return np.array(
            [self.decision_ops(i).index(op) for i, op in enumerate(arch.ops)], dtype=np.int64
        )

    def to_str(self, arch: Arch) -> str:
        """Canonical string: ``cell:|op~src|...|+|...|`` per cell type, joined by ``;``."""
        self._check_shape(arch)
        n = len(self.edges)
        parts = []
        for c, ct in enumerate(self.cell_types):
            parts.append(f"{ct}:{self._cell_str(arch.ops[c * n : (c + 1) * n])}")
        return ";".join(parts)

    def from_str(self, s: str) -> Arch:
        """Parse the string written by :meth:`to_str`; ValueError naming what is wrong."""
        if not isinstance(s, str):
            raise ValueError(f"architecture string must be a str, got {type(s).__name__}")
        cells = dict(part.split(":", 1) for part in s.strip().split(";") if ":" in part)
        if set(cells) != set(self.cell_types) or s.count(";") != len(self.cell_types) - 1:
            raise ValueError(
                f"{s!r} is not a {self.name!r} string: expected cells {self.cell_types} "
                f"as 'cell:|op~0|+|op~0|op~1|...' joined by ';'"
            )
        ops: list[str] = []
        for ct in self.cell_types:
            ops.extend(self._parse_cell(cells[ct], ct))
        return Arch(self.name, tuple(ops))

    def _cell_str(self, ops: Sequence[str]) -> str:
        groups: dict[int, list[str]] = {}
        for (src, dst), op in zip(self.edges, ops, strict=True):
            groups.setdefault(dst, []).append(f"{op}~{src}")
        return "+".join("|" + "|".join(g) + "|" for _, g in sorted(groups.items()))

    def _parse_cell(self, text: str, cell_type: str) -> list[str]:
        allowed = self.ops(cell_type)
        tokens = [
            tok for group in text.strip().split("+") for tok in group.strip("|").split("|") if tok
        ]
        if len(tokens) != len(self.edges):
            raise ValueError(
                f"cell {cell_type!r} string {text!r} has {len(tokens)} edges; space "
                f"{self.name!r} needs {len(self.edges)}"
            )
        expected = self._cell_str(["?"] * len(self.edges)).replace("|", "").replace("+", "")
        ops = []
        for tok, (src, _dst) in zip(tokens, self.edges, strict=True):
            op, sep, node = tok.rpartition("~")
            if not sep or node != str(src):
                raise ValueError(
                    f"bad edge token {tok!r} in {text!r}: expected 'op~{src}' (edge order {expected!r})"
                )
            if op not in allowed:
                raise ValueError(f"unknown op {op!r} for cell {cell_type!r}; choose from {allowed}")
            ops.append(op)
        # the groups must follow the destination nodes exactly (canonical form)
        if self._cell_str(ops) != text.strip():
            raise ValueError(f"cell string {text!r} does not group edges by destination node")
        return ops

    # --------------------------------------------------------------- validity
    def _check_shape(self, arch: Arch) -> None:
        if not isinstance(arch, Arch):
            raise ValueError(f"expected an Arch, got {type(arch).__name__}")
        if arch.space != self.name:
            raise ValueError(f"architecture of space {arch.space!r} given to space {self.name!r}")
        if len(arch.ops) != self.n_decisions:
            raise ValueError(
                f"architecture has {len(arch.ops)} ops; space {self.name!r} needs {self.n_decisions}"
            )
        for i, op in enumerate(arch.ops):
            if op not in self.decision_ops(i):
                ct, e = self.decisions[i]
                raise ValueError(
                    f"op {op!r} on {ct} edge {e} is not in {self.name!r}'s ops {self.decision_ops(i)}"
                )

    def _valid_ops(self, ops: tuple[str, ...]) -> bool:
        """Topology rule on a well-formed op tuple (every op tuple is valid by default)."""
        return True

    def is_valid(self, arch: Any) -> bool:
        """Whether ``arch`` is a well-formed architecture of this space obeying its topology rule."""
        try:
            self._check_shape(arch)
        except ValueError:
            return False
        return self._valid_ops(arch.ops)

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly random valid architecture (rejection sampling over uniform op choices)."""
        for _ in range(10_000):
            idx = rng.integers(0, self.nvec)
            arch = self.from_indices(idx)
            if self._valid_ops(arch.ops):
                return arch
        raise RuntimeError(f"could not sample a valid architecture of space {self.name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, decisions={self.n_decisions})"
