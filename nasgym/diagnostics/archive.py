"""Relative performance: a model's rank per output among the models evaluated so far.

An :class:`ObjectiveArchive` stores the objective vector (lower-is-better per output) of every
model evaluated in an episode. :meth:`ObjectiveArchive.rank` places a vector among them: for each
output, the fraction of archived models strictly better on that output (0.0 = best so far,
close to 1.0 = worse than everything seen).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


class ObjectiveArchive:
    """Objective vectors of every model evaluated so far, with per-output ranks."""

    def __init__(self, names: tuple[str, ...] | list[str]) -> None:
        if not names:
            raise ValueError("ObjectiveArchive needs at least one objective name")
        self.names: tuple[str, ...] = tuple(names)
        self._rows: list[np.ndarray] = []

    def _vector(self, objectives: Mapping[str, float]) -> np.ndarray:
        missing = [n for n in self.names if n not in objectives]
        if missing:
            raise ValueError(
                f"objective vector lacks {missing}; it must have every name of {self.names}"
            )
        return np.array([float(objectives[n]) for n in self.names], dtype=np.float64)

    def add(self, objectives: Mapping[str, float]) -> None:
        """Store one model's objective vector."""
        self._rows.append(self._vector(objectives))

    def rank(self, objectives: Mapping[str, float]) -> dict[str, float]:
        """Per output, the fraction of archived vectors strictly better (lower) than ``objectives``."""
        if not self._rows:
            return dict.fromkeys(self.names, 0.0)
        vec = self._vector(objectives)
        better = (self.matrix() < vec[None, :]).mean(axis=0)
        return {n: float(b) for n, b in zip(self.names, better, strict=True)}

    def matrix(self) -> np.ndarray:
        """Every stored vector as a ``(len(self), n_objectives)`` float64 array."""
        if not self._rows:
            return np.zeros((0, len(self.names)))
        return np.stack(self._rows)

    def best(self, name: str) -> float:
        """Lowest stored value of objective ``name`` (inf when empty)."""
        if name not in self.names:
            raise ValueError(f"unknown objective {name!r}; known: {self.names}")
        if not self._rows:
            return float("inf")
        return float(self.matrix()[:, self.names.index(name)].min())

    def clear(self) -> None:
        """Forget every stored vector."""
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, float]]:
        for row in self._rows:
            yield {n: float(v) for n, v in zip(self.names, row, strict=True)}


__all__ = ["ObjectiveArchive"]
