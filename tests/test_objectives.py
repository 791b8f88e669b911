"""Rewards: formulas, validation, stages, and that beta < 0 steers a search toward smaller cells."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasgym.objectives import REWARDS, list_rewards, make_reward


def test_registry_and_formulas():
    assert {"accuracy", "eq9", "eq10"} <= set(list_rewards())
    assert make_reward("accuracy")(0.9, 1.3) == 0.9
    assert math.isclose(make_reward("eq9", P=0.5, beta=-0.1)(0.8, 1.0), 0.8 * 2.0**-0.1)
    r = make_reward("eq10", P=1.0, L=4.0, beta=-0.2, gamma=-0.5, a=0.3)
    assert math.isclose(r(0.8, 2.0, 1.0), 0.8 * (0.3 * 2.0**-0.2 + 0.7 * 0.25**-0.5))
    with pytest.raises(KeyError, match="eq9"):
        make_reward("eq8")


@pytest.mark.parametrize(
    ("name", "params", "word"),
    [
        ("eq9", {"P": 0.0}, "P"),
        ("eq9", {"beta": float("nan")}, "beta"),
        ("eq10", {"L": -1.0}, "L"),
        ("eq10", {"a": 1.5}, "a"),
        ("eq10", {"a": 0.4, "c": 0.5}, "a \\+ c"),
        ("eq10", {"gamma": float("inf")}, "gamma"),
        ("eq9", {"P": [1.0, 2.0], "beta": [-0.1, -0.2, -0.3]}, "stages"),
        ("eq9", {"Q": 1.0}, "Q"),
    ],
)
def test_bad_parameters_name_themselves(name, params, word):
    with pytest.raises(ValueError, match=word):
        make_reward(name, **params)


def test_bad_inputs():
    r = make_reward("eq10")
    with pytest.raises(ValueError, match="fraction"):
        r(93.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="latency"):
        r(0.9, 1.0)
    with pytest.raises(ValueError, match="params"):
        make_reward("eq9")(0.9, 0.0)
    assert math.isclose(make_reward("eq10", a=0.25, c=0.75)(0.5, 1.0, 10.0), 0.5)


def test_staged_parameters():
    r = make_reward("eq9", P=[0.5, 1.0], beta=[-0.1, -0.3])
    assert r.n_stages == 2
    assert math.isclose(r(0.9, 1.0), 0.9 * 2.0**-0.1)
    assert math.isclose(r(0.9, 2.0, stage=1), 0.9 * 2.0**-0.3)
    r.stage = 1
    assert math.isclose(r(0.9, 2.0), 0.9 * 2.0**-0.3)
    assert math.isclose(make_reward("eq9", beta=[-0.1, -0.3], stage=1)(0.9, 2.0), 0.9 * 2.0**-0.3)
    with pytest.raises(ValueError, match="stage"):
        r(0.9, 1.0, stage=2)
    with pytest.raises(ValueError, match="P"):
        make_reward("eq9", P=[1.0, -1.0], beta=-0.1)


def test_negative_beta_prefers_smaller_cells_at_equal_accuracy():
    for beta, smaller_wins in ((-0.2, True), (0.0, None), (0.2, False)):
        r = make_reward("eq9", P=1.0, beta=beta)
        small, large = r(0.9, 0.3), r(0.9, 1.2)
        if smaller_wins is None:
            assert small == large
        else:
            assert (small > large) == smaller_wins
    r10 = make_reward("eq10", beta=-0.2, gamma=0.0, a=0.5)
    assert r10(0.9, 0.3, 5.0) > r10(0.9, 1.2, 5.0)


def test_eq9_best_nb201_cell_is_smaller_than_the_most_accurate(shared_data):
    from nasgym.tables.nb201 import load_nb201

    table = load_nb201()
    acc = table.valid_acc_12("cifar10").astype(float) / 100
    params = table.params("cifar10").astype(float)
    best_acc = int(np.argmax(acc))
    reward = make_reward("eq9", P=0.5, beta=-0.3)
    scores = np.array([reward(a, p) for a, p in zip(acc, params, strict=True)])
    best = int(np.argmax(scores))
    assert params[best] < params[best_acc] and acc[best] > 0.7


def test_eq9_moves_a_reinforce_search_toward_smaller_cells():
    from agents import make_agent
    from nasgym.envs.nb201 import NB201Env

    def late_params(reward: str, params: dict, seed: int) -> float:
        env = NB201Env(reward=reward, reward_params=params, time_budget=6000)
        agent = make_agent("reinforce", env, seed=seed)
        obs, _ = env.reset(seed=seed)
        sizes, done = [], False
        while not done:
            action, _ = agent.predict(obs)
            nxt, r, term, trunc, info = env.step(action)
            agent.update(obs, action, r, nxt, term, trunc, info)
            sizes.append(info["params"])
            obs, done = nxt, term or trunc
        return float(np.mean(sizes[len(sizes) // 2 :]))

    plain = [late_params("accuracy", {}, s) for s in range(6)]
    small = [late_params("eq9", {"P": 0.5, "beta": -0.5}, s) for s in range(6)]
    assert np.mean(small) < 0.7 * np.mean(plain)


def test_rewards_registry_holds_classes():
    assert all(isinstance(REWARDS.get(n), type) for n in REWARDS)
