"""The agent interface every nasgym agent answers, the way a Stable-Baselines3 model does."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class Agent:
    """Base class of nasgym agents.

    An agent is built from the environment it will act in (for its spaces and, for
    environment-aware agents, its action table) and a seed. It answers SB3's
    ``predict(obs, state=None, episode_start=None, deterministic=False)`` and returns
    ``(action, state)``. Learning agents also implement :meth:`update`, which the
    evaluation loop calls after every ``env.step`` with what the step returned.

    Masks: where an environment masks actions, its observation carries the mask under
    ``obs["action_mask"]`` (and ``info["action_mask"]``); agents read it from there.
    """

    #: short name under which the agent is registered (set by ``register_agent``)
    name: str = ""

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """Return ``(action, state)`` for ``observation``."""
        raise NotImplementedError

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
        """Learn from one transition (no-op for agents that do not learn)."""

    def reset(self) -> None:
        """Forget per-episode state (called at the start of each episode)."""
