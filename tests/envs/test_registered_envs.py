"""Every registered nasgym environment: checkers, same-seed determinism, pickling, masks.

A new env id must get an entry in ``SMALL_KWARGS`` (CPU-sized arguments for tests), so no
environment can be registered without passing these checks.
"""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import nasgym

SMALL_KWARGS: dict[str, dict] = {
    "nasgym/NB201-v0": {"time_budget": 2000.0},
    "nasgym/NB201Seq-v0": {"time_budget": 2000.0},
    "nasgym/VALP-v0": {
        "initial_batches": 4,
        "step_batches": 2,
        "max_steps": 4,
        "eval_samples": 48,
        "diagnostics": {"samples": 48},
        # the checkers step random, possibly masked-out actions: penalise instead of raising
        "invalid_action": "penalize",
    },
    # the paper presets read Fashion-MNIST from a data folder: their settings on digits here
    "nasgym/VALP-Paper-v0": {
        "dataset": "digits",
        "initial_batches": 4,
        "step_batches": 2,
        "max_steps": 4,
        "eval_samples": 48,
        "diagnostics": {"samples": 48},
        "batch_size": 32,
        "invalid_action": "penalize",
    },
    "nasgym/Cell-v0": {
        "channels": 4,
        "stage_cells": (3,),
        "stage_steps": 4,
        "keep_ops": {"normal": (10,), "reduce": (6,)},
        "batch_size": 16,
        "train_batches": 1,
        "val_batch_size": 32,
        "warmup_batches": 1,
        "tune_batches": 1,
    },
}
SMALL_KWARGS["nasgym/VALP-PaperScaled-v0"] = SMALL_KWARGS["nasgym/VALP-Paper-v0"]
ENV_IDS = nasgym.env_ids()


def _make(env_id: str) -> gym.Env:
    return gym.make(env_id, **SMALL_KWARGS[env_id]).unwrapped


def _valid_action(env: gym.Env, rng: np.random.Generator):
    """A random action the env's mask allows (any action where the env has no mask)."""
    space = env.action_space
    masks = getattr(env, "action_masks", None)
    if masks is None:
        return space.sample()
    mask = np.asarray(masks(), dtype=bool)
    if isinstance(space, gym.spaces.Discrete):
        return int(rng.choice(np.flatnonzero(mask)))
    bounds = np.concatenate([[0], np.cumsum(space.nvec)])
    return np.array(
        [
            rng.choice(np.flatnonzero(mask[a:b]))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )


def _rollout(env: gym.Env, seed: int, steps: int) -> list:
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(_valid_action(env, rng))
        trace.append((obs, reward, terminated, truncated, info["objectives"], info["cost"]))
        if terminated or truncated:
            break
    return trace


def _assert_equal(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_equal(a[key], b[key])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_every_registered_env_has_test_arguments():
    assert set(ENV_IDS) == set(SMALL_KWARGS), "add CPU-sized test kwargs for new env ids"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_checkers(env_id: str) -> None:
    check_env(_make(env_id), skip_render_check=True)
    sb3_check_env(_make(env_id), warn=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_trajectory(env_id: str) -> None:
    first, second = _rollout(_make(env_id), 3, 3), _rollout(_make(env_id), 3, 3)
    _assert_equal(first, second)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_info_carries_objectives_cost_and_accepted(env_id: str) -> None:
    env, rng = _make(env_id), np.random.default_rng(0)
    env.reset(seed=0)
    *_, info = env.step(_valid_action(env, rng))
    for _ in range(5):  # an env may take several decisions per evaluation (NB201Seq-v0: 6)
        if info["objectives"]:
            break
        assert info["objectives"] == {} and info["cost"] == 0 and info["accepted"] is True
        *_, info = env.step(_valid_action(env, rng))
    assert set(info["objectives"]) == set(env.objective_spec)
    assert all(isinstance(v, float) for v in info["objectives"].values())
    assert info["cost"] > 0 and isinstance(info["accepted"], bool)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickled_env_continues_identically(env_id: str) -> None:
    env = _make(env_id)
    env.reset(seed=1)
    action = _valid_action(env, np.random.default_rng(1))
    env.step(action)
    copy = pickle.loads(pickle.dumps(env))
    action = _valid_action(env, np.random.default_rng(2))
    _assert_equal(env.step(action)[:4], copy.step(action)[:4])
