"""Regularized evolution (Real et al., AAAI 2019), the NAS-Bench-201 baseline."""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.action_layout import ActionLayout, uniform_choice
from agents.base import Agent


@register_agent("rea")
class REAAgent(Agent):
    """Regularized evolution: tournament selection, one-decision mutation, oldest dies.

    The first ``population_size`` actions are uniformly random allowed architectures. After
    that each action is a child: ``sample_size`` members drawn without replacement from the
    population, the fittest (highest reward) is the parent, and one decision that has
    another allowed op is changed to a different allowed op (decisions whose op became
    masked are first resampled). ``update`` adds the evaluated architecture with its reward
    and removes the oldest member once the population is full.

    Arguments: ``population_size`` (10), ``sample_size`` (3, as in NB201's R-EA script;
    1 to ``population_size``, 1 meaning a random parent). ``reset()`` empties the population (one search per episode).
    """

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        population_size: int = 10,
        sample_size: int = 3,
    ) -> None:
        super().__init__(env, seed=seed)
        if int(population_size) < 2:
            raise ValueError(f"population_size must be >= 2, got {population_size!r}")
        if not 1 <= int(sample_size) <= int(population_size):
            raise ValueError(
                f"sample_size must be in [1, population_size={population_size}], got {sample_size!r}"
            )
        self.layout = ActionLayout(env.action_space)
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.population: deque[tuple[np.ndarray, float]] = deque()

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """A random architecture while the population fills, then a mutated tournament winner."""
        mask = self.layout.mask(observation)
        if len(self.population) < self.population_size:
            return self.layout.to_action(uniform_choice(self.rng, mask)), state
        picks = self.rng.choice(len(self.population), size=self.sample_size, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda m: m[1])[0]
        return self.layout.to_action(self.mutate(parent, mask)), state

    def mutate(self, parent: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """A copy of ``parent`` with one decision changed to a different allowed op."""
        child = np.array(parent, dtype=np.int64)
        rows = np.arange(len(child))
        stale = ~mask[rows, child]
        if stale.any():
            child[stale] = uniform_choice(self.rng, mask[stale])
        options = np.flatnonzero(mask.sum(axis=1) >= 2)
        if options.size == 0:
            return child
        d = int(self.rng.choice(options))
        allowed = np.flatnonzero(mask[d])
        allowed = allowed[allowed != child[d]]
        child[d] = int(self.rng.choice(allowed))
        return child

    def update(
        self,
        observation: Any,
        action: Any,
        reward: float,
        next_observation: Any,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        """Add the evaluated architecture; the oldest member dies when the population is full."""
        self.population.append((self.layout.from_action(action), float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def reset(self) -> None:
        """Empty the population: a new search starts."""
        self.population.clear()
