"""Saved Stable-Baselines3 models as bench agents: ``--agent sb3:ALGO:PATH``.

``ALGO`` is an SB3 or sb3-contrib algorithm name (``ppo``, ``a2c``, ``dqn``, ``maskableppo``,
...), ``PATH`` the ``.zip`` written by ``model.save``. The model acts deterministically (its
most likely action): sampling would draw from torch's global generator, which nasgym never
seeds, so a stochastic SB3 agent could not be replayed or paired. Masked envs pass their
``action_masks()`` to maskable models.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import gymnasium as gym

PREFIX = "sb3:"
#: algorithm name (lower case) -> (module, class)
ALGORITHMS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "dqn": ("stable_baselines3", "DQN"),
    "sac": ("stable_baselines3", "SAC"),
    "td3": ("stable_baselines3", "TD3"),
    "maskableppo": ("sb3_contrib", "MaskablePPO"),
    "recurrentppo": ("sb3_contrib", "RecurrentPPO"),
    "trpo": ("sb3_contrib", "TRPO"),
}


def is_sb3(name: str) -> bool:
    """Whether an agent name refers to a saved SB3 model."""
    return name.startswith(PREFIX)


def parse(name: str) -> tuple[str, Path]:
    """``sb3:ALGO:PATH`` -> (algorithm, path); ValueError naming what is wrong."""
    parts = name[len(PREFIX) :].split(":", 1)
    if len(parts) != 2 or not parts[1]:
        raise ValueError(
            f"agent {name!r}: write a saved SB3 model as sb3:ALGO:PATH, e.g. sb3:ppo:model.zip"
        )
    algo, path = parts[0].lower(), Path(parts[1]).expanduser()
    if algo not in ALGORITHMS:
        raise ValueError(
            f"agent {name!r}: unknown SB3 algorithm {algo!r}; choose from {sorted(ALGORITHMS)}"
        )
    if not path.is_file() and not path.with_suffix(".zip").is_file():
        raise ValueError(f"agent {name!r}: no saved model at {path}")
    return algo, path


class SB3Agent:
    """A loaded SB3 model answering the nasgym agent interface (deterministic actions)."""

    def __init__(self, name: str, env: gym.Env, seed: int | None = None) -> None:
        algo, path = parse(name)
        module, cls = ALGORITHMS[algo]
        model_cls = getattr(importlib.import_module(module), cls)
        self.name = name
        self.seed = seed
        self.env = env
        self.model = model_cls.load(str(path), device="cpu")
        self.masked = algo == "maskableppo"

    def reset(self) -> None:
        """Nothing to forget between episodes (recurrent state is passed through ``state``)."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[Any, Any]:
        """The model's most likely action (masked by the env's ``action_masks()`` if maskable)."""
        kwargs: dict[str, Any] = {}
        if self.masked:
            kwargs["action_masks"] = self.env.unwrapped.action_masks()
        return self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=True, **kwargs
        )

    def update(self, *args: Any) -> None:
        """Saved models do not learn during a bench."""
