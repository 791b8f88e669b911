"""nasgym/NB201Seq-v0: same protocol as NB201-v0, one edge per step, partial-cell observation."""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401  (registers the ids)
from agents import make_agent
from nasgym.envs.nb201 import NB201Env
from nasgym.envs.nb201_seq import NB201SeqEnv

CELL1_ACTION = [3, 3, 4, 1, 3, 1]


def _same_info(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all(
        (isinstance(x, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(a.values(), b.values(), strict=True)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dataset": "cifar100", "time_budget": 4000.0},
        {"dataset": "in16", "reward": "eq9", "reward_params": {"beta": -0.2}, "max_steps": 7},
    ],
)
def test_six_decisions_equal_one_nb201_step(kwargs):
    seq, flat = NB201SeqEnv(**kwargs), NB201Env(**kwargs)
    seq.reset(seed=0)
    flat.reset(seed=0)
    rng = np.random.default_rng(5)
    done, cells = False, 0
    while not done:
        cell = rng.integers(0, 5, 6)
        for op in cell[:-1]:
            _, reward, term, trunc, info = seq.step(op)
            assert (reward, term, trunc) == (0.0, False, False)
            assert info["objectives"] == {} and info["cost"] == flat.cost
        *seq_out, seq_info = seq.step(cell[-1])
        *flat_out, flat_info = flat.step(cell)
        assert seq_out[1:] == flat_out[1:] and _same_info(seq_info, flat_info)
        done, cells = seq_out[2] or seq_out[3], cells + 1
    assert cells > 3 and flat.done
    assert seq.objective_spec == flat.objective_spec
    with pytest.raises(RuntimeError, match="reset"):
        seq.step(0)


def test_observation_shows_partial_cell_and_budget():
    env = NB201SeqEnv()
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and obs.shape == (37,)
    unset = np.arange(6) * 6 + 5
    assert np.flatnonzero(obs[:36]).tolist() == unset.tolist() and obs[36] == 0
    for k, op in enumerate(CELL1_ACTION[:3], start=1):
        obs, *_, info = env.step(op)
        assert info["edges_set"] == k
    slots = [6 * e + o for e, o in enumerate(CELL1_ACTION[:3])] + unset[3:].tolist()
    assert np.flatnonzero(obs[:36]).tolist() == slots
    for op in CELL1_ACTION[3:]:
        obs, *_, info = env.step(op)
    assert info["index"] == 1  # the cell of NB201's official index 1
    assert np.flatnonzero(obs[:36]).tolist() == unset.tolist()  # a new cell starts
    assert obs[36] == pytest.approx(info["cost"] / env.time_budget) and 0 < obs[36] < 1
    assert env.action_masks().tolist() == [True] * 5


def test_bad_actions_raise_and_leave_the_cell_alone():
    env = NB201SeqEnv()
    env.reset(seed=0)
    env.step(2)
    for bad in (5, -1, [0, 1], 0.5, "x", True):
        with pytest.raises(ValueError):
            env.step(bad)
    assert env.step(np.int64(3))[-1]["edges_set"] == 2
    assert env.step(np.array([1]))[-1]["edges_set"] == 3 and env.step(4.0)[-1]["edges_set"] == 4


def test_random_agent_runs_a_whole_search_and_pickles_mid_cell():
    env = gym.make("nasgym/NB201Seq-v0", dataset="c10", time_budget=3000.0).unwrapped
    agent = make_agent("random", env, seed=3)
    obs, _ = env.reset(seed=3)
    infos, done = [], False
    while not done:
        action, _ = agent.predict(obs)
        obs, reward, term, trunc, info = env.step(action)
        infos.append(info)
        done = term or trunc
    cells = [i for i in infos if i["objectives"]]
    assert len(infos) == 6 * len(cells) and len(cells) > 3
    assert cells[-1]["best_valid_acc_12"] == max(c["valid_acc_12"] for c in cells if c["in_budget"])
    env.reset(seed=0)
    for op in (1, 2, 3):
        env.step(op)
    clone = pickle.loads(pickle.dumps(env))
    for op in (3, 3, 3):
        a, b = env.step(op), clone.step(op)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4] and _same_info(a[4], b[4])
