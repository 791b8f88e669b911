"""The hill-climbing driver with the rules agent on the VALP environment."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents import Agent, make_agent
from nasgym.envs.valp import VALPEnv
from nasgym.hillclimb import Trajectory, hill_climb

TINY = {
    "initial_batches": 5,
    "step_batches": 3,
    "max_steps": 5,
    "eval_samples": 48,
    "diagnostics": {"samples": 48},
}


class _FirstValid(Agent):
    """Always the first valid action; counts updates."""

    def __init__(self, env, seed=None):  # noqa: ANN001
        super().__init__(env, seed)
        self.updates = 0

    def predict(self, observation, state=None, episode_start=None, deterministic=False):  # noqa: ANN001, ANN201
        return int(np.flatnonzero(observation["action_mask"])[0]), state

    def update(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        self.updates += 1


def test_hill_climb_records_the_paper_acceptance() -> None:
    env = VALPEnv(**TINY)
    agent = make_agent("rules", env, seed=0)
    traj = hill_climb(env, agent, steps=4, seed=0)
    assert isinstance(traj, Trajectory) and traj.n_steps == 4
    assert len(traj.descriptors) == len(traj.objectives) == 5
    for k in range(4):
        if traj.accepted[k]:
            assert traj.objectives[k + 1] == traj.candidate_objectives[k]
        else:  # a rejected candidate leaves the current model as it was
            assert traj.descriptors[k + 1] == traj.descriptors[k]
            assert traj.objectives[k + 1] == traj.objectives[k]
    assert all(op.split(":")[0] in {p[0] for p in env.action_table.pairs} for op in traj.operators)
    assert traj.costs == sorted(traj.costs) and traj.costs[-1] == 5 + 4 * 3
    assert traj.best("class") <= traj.objectives[0]["class"]
    assert json.loads(traj.to_json())["operators"] == traj.operators


def test_hill_climb_is_reproducible_and_stops_at_the_episode_end() -> None:
    a = hill_climb(VALPEnv(**TINY), make_agent("rules", VALPEnv(**TINY), seed=1), 3, seed=7)
    b = hill_climb(VALPEnv(**TINY), make_agent("rules", VALPEnv(**TINY), seed=1), 3, seed=7)
    assert a.to_dict() == b.to_dict()
    env = VALPEnv(**TINY)
    agent = _FirstValid(env)
    traj = hill_climb(env, agent, steps=50, seed=0)
    assert traj.n_steps == TINY["max_steps"] and agent.updates == TINY["max_steps"]
    with pytest.raises(ValueError, match="steps"):
        hill_climb(env, agent, steps=-1)
