"""How agents read an env's categorical action space and its masks.

An action is a tuple of categorical decisions: one for ``Discrete(n)``, ``len(nvec)`` for a
1-D ``MultiDiscrete(nvec)``. Masks come from ``obs["action_mask"]`` (flat: the per-decision
masks concatenated, as sb3-contrib expects) when the observation is a dict holding one.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class ActionLayout:
    """Decisions of a ``Discrete`` or 1-D ``MultiDiscrete`` action space and their masks."""

    def __init__(self, action_space: gym.Space) -> None:
        if isinstance(action_space, gym.spaces.Discrete):
            self.discrete = True
            self.start = np.array([int(action_space.start)], dtype=np.int64)
            self.nvec = np.array([int(action_space.n)], dtype=np.int64)
        elif isinstance(action_space, gym.spaces.MultiDiscrete) and action_space.nvec.ndim == 1:
            self.discrete = False
            self.start = np.asarray(action_space.start, dtype=np.int64).reshape(-1)
            self.nvec = np.asarray(action_space.nvec, dtype=np.int64).reshape(-1)
        else:
            raise TypeError(
                f"cell agents need a Discrete or 1-D MultiDiscrete action space, got {action_space}"
            )
        self.offsets = np.concatenate([[0], np.cumsum(self.nvec)]).astype(np.int64)
        self.n_decisions = len(self.nvec)
        self.max_ops = int(self.nvec.max())
        #: (n_decisions, max_ops) True where an op exists for the decision
        self.exists = np.arange(self.max_ops)[None, :] < self.nvec[:, None]

    def mask(self, observation: Any) -> np.ndarray:
        """(n_decisions, max_ops) bool mask of allowed ops (all existing ops without a mask)."""
        if isinstance(observation, dict) and "action_mask" in observation:
            flat = np.asarray(observation["action_mask"]).astype(bool).reshape(-1)
            if flat.shape[0] != self.offsets[-1]:
                raise ValueError(
                    f"action_mask has {flat.shape[0]} entries; the action space needs "
                    f"{int(self.offsets[-1])} (one per op of each decision)"
                )
            out = np.zeros_like(self.exists)
            for d in range(self.n_decisions):
                out[d, : self.nvec[d]] = flat[self.offsets[d] : self.offsets[d + 1]]
            empty = np.flatnonzero(~out.any(axis=1))
            if empty.size:
                raise ValueError(f"action_mask allows no op for decisions {empty.tolist()}")
            return out
        return self.exists.copy()

    def to_action(self, indices: np.ndarray) -> Any:
        """The env action for per-decision op ``indices`` (0-based)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1) + self.start
        return int(idx[0]) if self.discrete else idx

    def from_action(self, action: Any) -> np.ndarray:
        """Per-decision 0-based op indices of an env ``action``."""
        return np.asarray(action, dtype=np.int64).reshape(-1) - self.start


def uniform_choice(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """One op index per row of ``mask``, uniform over the row's True entries."""
    counts = mask.sum(axis=1)
    picks = (rng.random(mask.shape[0]) * counts).astype(np.int64)
    ranks = np.cumsum(mask, axis=1) - 1
    return np.argmax((ranks == picks[:, None]) & mask, axis=1).astype(np.int64)
