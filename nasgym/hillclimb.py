"""Hill climbing (the VALP paper's Fig. 4): run an agent on an environment and keep the trajectory.

The environment carries the acceptance rule (``nasgym/VALP-v0`` with ``acceptance="paper"`` keeps
a candidate only when it is better on at least two of the three objectives, else reverts), so the
driver is generic: any env with a ``Discrete`` action space and any object answering
``predict(obs, ...)`` (and optionally ``update``/``reset``, as :class:`agents.Agent` does) will do.
nasgym never imports the agents package: the agent is passed in.

    >>> import gymnasium as gym, nasgym
    >>> from agents import make_agent
    >>> env = gym.make("nasgym/VALP-v0")
    >>> trajectory = hill_climb(env, make_agent("rules", env, seed=0), steps=10, seed=0)
    >>> trajectory.best("class")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np


class PolicyLike(Protocol):
    """What the driver needs from an agent (SB3 models and :class:`agents.Agent` both fit)."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]: ...


@dataclass
class Trajectory:
    """One hill-climbing run. Index 0 of the per-model lists is the initial model.

    ``descriptors``/``objectives``: the *current* model after each step (after acceptance; read
    from ``info["current_descriptor"]``/``info["current_objectives"]``, falling back to
    ``info["descriptor"]``/``info["objectives"]``); ``candidate_objectives``: the objective vector
    of the candidate each step evaluated (``info["objectives"]``).
    ``operators``/``targets``/``actions``/``accepted``/``rewards``/``costs``/``diverged``: one
    entry per step.
    """

    seed: int | None
    descriptors: list[str] = field(default_factory=list)
    objectives: list[dict[str, float]] = field(default_factory=list)
    candidate_objectives: list[dict[str, float]] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    accepted: list[bool] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    diverged: list[bool] = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        """Number of steps taken."""
        return len(self.actions)

    def best(self, objective: str) -> float:
        """Lowest value of ``objective`` over every evaluated model (initial and candidates)."""
        values = [
            o[objective] for o in self.objectives[:1] + self.candidate_objectives if objective in o
        ]
        if not values:
            raise ValueError(f"no objective {objective!r} in this trajectory")
        return float(min(values))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole trajectory."""
        return asdict(self)

    def to_json(self) -> str:
        """The trajectory as a JSON string."""
        return json.dumps(self.to_dict())


def _objectives(info: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(info.get("objectives", {})).items()}


def hill_climb(env: gym.Env, agent: PolicyLike, steps: int, seed: int | None = None) -> Trajectory:
    """Run ``agent`` on ``env`` for ``steps`` steps (or until the episode ends) from ``seed``.

    Calls ``agent.reset()`` first and ``agent.update(...)`` after every step when the agent has
    them. Returns the :class:`Trajectory`.
    """
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps!r}")
    obs, info = env.reset(seed=seed)
    if hasattr(agent, "reset"):
        agent.reset()
    traj = Trajectory(seed=seed)
    traj.descriptors.append(str(info.get("descriptor", "")))
    traj.objectives.append(_objectives(info))
    for _ in range(int(steps)):
        action, _state = agent.predict(obs, deterministic=False)
        action = int(np.asarray(action).reshape(()))
        next_obs, reward, terminated, truncated, info = env.step(action)
        if hasattr(agent, "update"):
            agent.update(obs, action, float(reward), next_obs, terminated, truncated, info)
        traj.actions.append(action)
        traj.operators.append(str(info.get("operator", "")))
        traj.targets.append(str(info.get("target", "")))
        traj.accepted.append(bool(info.get("accepted", True)))
        traj.rewards.append(float(reward))
        traj.costs.append(float(info.get("cost", np.nan)))
        traj.diverged.append(bool(info.get("diverged", False)))
        traj.candidate_objectives.append(_objectives(info))
        traj.descriptors.append(str(info.get("current_descriptor", info.get("descriptor", ""))))
        current = info.get("current_objectives", info.get("objectives", {}))
        traj.objectives.append(_objectives({"objectives": current}))
        obs = next_obs
        if terminated or truncated:
            break
    return traj


__all__ = ["PolicyLike", "Trajectory", "hill_climb"]
