"""Random search: every decision uniform over its allowed ops."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agents import register_agent
from agents.action_layout import ActionLayout, uniform_choice
from agents.base import Agent


@register_agent("random")
class RandomAgent(Agent):
    """Random search: each decision uniform over the ops its mask allows.

    Works on ``Discrete`` and 1-D ``MultiDiscrete`` actions, with or without an
    ``obs["action_mask"]``.
    """

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        super().__init__(env, seed=seed)
        self.layout = ActionLayout(env.action_space)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """A uniformly random allowed action (``deterministic`` is ignored)."""
        mask = self.layout.mask(observation)
        return self.layout.to_action(uniform_choice(self.rng, mask)), state
