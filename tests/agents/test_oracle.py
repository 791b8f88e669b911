"""The look-ahead ``oracle``: it takes the tried action whose outcome adds the most hypervolume,
its peek is what the real step then does, and it refuses envs it cannot fork."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from bench_replay import assert_benches_and_replays

import nasgym  # noqa: F401  (registers the envs)
from agents import make_agent
from nasgym import indicators as ind

TINY = {"dataset": "digits", "initial_batches": 5, "step_batches": 2}


def _started(**agent_kwargs):
    """A tiny paper-preset env reset at seed 3, its box, and an oracle reset for the episode."""
    env = gym.make("nasgym/VALP-Paper-v0", **TINY)
    obs, _ = env.reset(seed=3)
    spec = env.unwrapped.objective_spec
    bounds = [tuple(map(float, b)) for b in spec.values()]
    agent = make_agent("oracle", env, seed=0, **agent_kwargs)
    agent.reset()
    return env, obs, list(spec), bounds, agent


def test_oracle_takes_the_action_adding_most_hypervolume_and_the_step_does_what_it_saw():
    env, obs, names, bounds, agent = _started(tries=None)
    core = env.unwrapped
    points: list[list[float]] = []
    for _ in range(2):
        valid = np.flatnonzero(obs["action_mask"])
        added = {}
        for a in valid:  # every valid action's outcome, peeked independently of the agent
            info = core.fork().step(int(a))[4]
            row = [info["objectives"][n] for n in names]
            added[int(a)] = (ind.hypervolume([*points, row], bounds), row)
        action, _ = agent.predict(obs)
        assert added[action][0] == max(v for v, _ in added.values())
        obs, reward, term, trunc, info = env.step(action)
        agent.update(None, action, reward, obs, term, trunc, info)
        assert [info["objectives"][n] for n in names] == added[action][1]
        points.append(added[action][1])


def test_training_oracle_makes_its_luckiest_draw_of_one_action_the_real_step():
    env, obs, names, bounds, agent = _started(tries=4, vary="training")
    seeds = np.random.default_rng(0)  # mirror the agent's generator: its action, then its seeds
    action, _ = agent.predict(obs)
    assert int(seeds.choice(np.flatnonzero(obs["action_mask"]))) == action
    rows = []
    for s in seeds.integers(2**31, size=4):
        info = env.unwrapped.fork(int(s)).step(action)[4]
        rows.append([info["objectives"][n] for n in names])
    assert len({tuple(r) for r in rows}) > 1  # the draws differ: there is luck to pick
    info = env.step(action)[4]
    got = [info["objectives"][n] for n in names]
    assert got in rows
    assert ind.hypervolume([got], bounds) == max(ind.hypervolume([r], bounds) for r in rows)


def test_oracle_refuses_an_env_it_cannot_fork_and_bad_tries():
    with pytest.raises(TypeError, match="fork"):
        make_agent("oracle", gym.make("nasgym/NB201-v0"))
    with pytest.raises(ValueError, match="tries"):
        make_agent("oracle", gym.make("nasgym/VALP-Paper-v0", **TINY), tries=0)
    with pytest.raises(ValueError, match="vary"):
        make_agent("oracle", gym.make("nasgym/VALP-Paper-v0", **TINY), vary="operator")
    with pytest.raises(ValueError, match="number of tries"):
        make_agent("oracle", gym.make("nasgym/VALP-Paper-v0", **TINY), tries=None, vary="training")


@pytest.mark.slow
def test_oracle_runs_through_bench_and_replays(tmp_path):
    kwargs = {"initial_batches": 5, "step_batches": 3, "max_steps": 3}
    assert_benches_and_replays(tmp_path, "nasgym/VALP-v0", "oracle", kwargs, 3)


@pytest.mark.slow
def test_training_oracle_runs_through_bench_and_replays(tmp_path):
    kwargs = {"initial_batches": 5, "step_batches": 3, "max_steps": 3}
    assert_benches_and_replays(
        tmp_path, "nasgym/VALP-v0", "oracle", kwargs, 3, agent_kwargs={"vary": "training"}
    )
