"""A fast, deterministic two-objective toy env and a toy agent, for the bench tests only.

Importing this module registers ``nasgym-test/ToyMO-v0`` with gymnasium and the agent
``toy-cycle`` (tests pass ``--import nasgym_toys`` so worker processes register them too).
"""

from __future__ import annotations

import os
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents import AGENTS, Agent, register_agent

TOY_ID = "nasgym-test/ToyMO-v0"
OPERATORS = ("grow", "shrink", "swap", "noop")


class ToyMOEnv(gym.Env):
    """Toy multi-objective search: the action picks a point; two conflicting objectives.

    The seed draws an offset at reset (so paired seeds matter) and each step adds noise from
    ``self.np_random``, so a run is reproducible only through its seed. Each step sleeps
    ``sleep`` seconds plus ``$NASGYM_TOY_SLEEP`` (a slow-down that is not part of the run key,
    so a slowed bench and a fast one store the same records). Like VALP, ``info`` carries dicts:
    ``current_objectives`` (the objectives of the last accepted point) and ``details`` (a scalar,
    an array and a nested dict).
    """

    objective_spec = {"f1": (0.0, 1.0), "f2": (0.0, 1.0)}

    def __init__(
        self,
        horizon: int = 40,
        sleep: float = 0.0,
        data_dir: str | None = None,
        fail_at: int | None = None,
    ):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.horizon = int(horizon)
        self.fail_at = fail_at
        self.sleep = float(sleep) + float(os.environ.get("NASGYM_TOY_SLEEP", "0"))
        self.action_space = spaces.Discrete(8)
        self.observation_space = spaces.Box(0.0, 1.0, (2,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t = 0
        self.offset = float(self.np_random.uniform(0.0, 0.2))
        self.current = {"f1": 1.0, "f2": 1.0}
        return np.zeros(2, dtype=np.float32), {"objectives": {}, "cost": 0.0, "accepted": True}

    def step(self, action: Any):
        if self.sleep:
            time.sleep(self.sleep)
        a = int(action)
        self.t += 1
        if self.fail_at is not None and self.t >= self.fail_at:
            raise RuntimeError(f"toy failure at step {self.t}")
        x = a / 7.0
        noise = float(self.np_random.uniform(0.0, 0.1))
        f1 = min(1.2, x + self.offset + noise)
        f2 = min(1.2, (1.0 - x) ** 2 + self.offset + noise)
        obs = np.array([min(f1, 1.0), min(f2, 1.0)], dtype=np.float32)
        if a % 2 == 0:
            self.current = {"f1": f1, "f2": f2}
        info = {
            "objectives": {"f1": f1, "f2": f2},
            "current_objectives": dict(self.current),
            "details": {"x": np.float64(x), "xs": np.full(3, x), "deep": {"x": x}},
            "cost": float(self.t),
            "accepted": bool(a % 2 == 0),
            "operator": OPERATORS[a % 4],
            "score": -(f1 + f2),
            "action_mask": np.ones(8, dtype=bool),
        }
        return obs, -(f1 + f2), self.t >= self.horizon, False, info


class CycleAgent(Agent):
    """Toy agent: a seeded random start, then cycles through the actions by ``stride`` (1-7);
    counts its updates."""

    def __init__(self, env: gym.Env, seed: int | None = None, stride: int = 3) -> None:
        super().__init__(env, seed=seed)
        if not 1 <= stride <= 7:
            raise ValueError(f"stride must be in 1..7, got {stride!r}")
        self.stride = int(stride)
        self.next = int(self.rng.integers(8))
        self.updates = 0

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        action = self.next
        self.next = (self.next + self.stride) % 8
        return np.int64(action), state

    def update(self, *args: Any) -> None:
        self.updates += 1


class CycleCopy(CycleAgent):
    """The same policy as ``toy-cycle`` under another name (for the paired-seed test)."""


if TOY_ID not in gym.registry:
    gym.register(id=TOY_ID, entry_point=ToyMOEnv)
if "toy-cycle" not in AGENTS:
    register_agent("toy-cycle", CycleAgent)
    register_agent("toy-cycle-copy", CycleCopy)
