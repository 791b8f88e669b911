"""The ``sb3`` agent: seeded stochastic actions, deterministic option, loading without pickles."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401
from agents import make_agent
from nasgym.training.sb3 import train_sb3
from policies import SHIPPED, shipped_path

ENV = "nasgym/NB201Seq-v0"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo")
    fast = {"n_steps": 64, "batch_size": 64, "n_epochs": 1}
    return str(train_sb3("maskableppo", ENV, out, timesteps=64, algo_kwargs=fast).path)


def _actions(path: str, seed: int, n: int = 60, **kwargs) -> list[int]:
    env = gym.make(ENV)
    obs, _ = env.reset(seed=0)
    agent = make_agent("sb3", env, seed=seed, path=path, **kwargs)
    out = []
    for _ in range(n):
        action, _ = agent.predict(obs)
        out.append(int(action))
        obs, *_ = env.step(action)
    return out


def test_stochastic_actions_repeat_under_the_same_seed(model_path):
    a, b, c = _actions(model_path, 0), _actions(model_path, 0), _actions(model_path, 1)
    assert a == b
    assert a != c
    assert len(set(a)) > 1  # an untrained policy samples several ops


def test_deterministic_option_takes_the_most_likely_action(model_path):
    a = _actions(model_path, 0, deterministic=True)
    assert a == _actions(model_path, 1, deterministic=True)
    env = gym.make(ENV)
    agent = make_agent("sb3", env, seed=0, path=model_path)
    obs_t, _ = agent.model.policy.obs_to_tensor(env.reset(seed=0)[0])
    probs = agent.model.policy.get_distribution(obs_t).distribution.probs
    assert a[0] == int(probs.argmax())


def test_samples_follow_the_policy_distribution(model_path):
    import torch

    env = gym.make(ENV)
    obs, _ = env.reset(seed=0)
    agent = make_agent("sb3", env, seed=0, path=model_path)
    batch = np.repeat(obs[None], 4000, axis=0)
    actions, _ = agent.predict(batch)
    with torch.no_grad():
        obs_t, _ = agent.model.policy.obs_to_tensor(obs)
        probs = agent.model.policy.get_distribution(obs_t).distribution.probs.numpy()[0]
    freq = np.bincount(actions, minlength=len(probs)) / len(actions)
    assert np.abs(freq - probs).max() < 0.03


def test_pickled_objects_are_refused_unless_trusted(tmp_path):
    from stable_baselines3 import PPO

    from policies.extractors import extractor_kwargs

    env = gym.make(ENV)
    kwargs = extractor_kwargs("dict-log", features_dim=16)
    PPO("MlpPolicy", env, n_steps=64, batch_size=64, policy_kwargs=kwargs).save(tmp_path / "m")
    with pytest.raises(ValueError, match="refusing to load .*policy_kwargs.*trust=True"):
        make_agent("sb3", env, seed=0, path=str(tmp_path / "m.zip"), algo="ppo")
    agent = make_agent("sb3", env, seed=0, path=str(tmp_path / "m.zip"), algo="ppo", trust=True)
    assert agent.predict(env.reset(seed=0)[0])[0] in range(5)


def test_shipped_nb201_policy_loads_by_name_and_benches(tmp_path):
    from nasgym.bench import BenchEntry, read_records, run_bench

    agent = make_agent("ppo-nb201", gym.make(ENV), seed=0)
    assert agent.model.num_timesteps > 100_000
    entry = BenchEntry(ENV, ("ppo-nb201",), (0, 1), {}, 12)
    report = run_bench([entry], tmp_path, progress=False, plots=False, quiet=True)
    assert report.completed == 2 and not report.failed
    steps = [r for r in read_records(tmp_path / "results.jsonl") if r["type"] == "step"]
    assert len(steps) == 24 and all(0 <= r["action"] < 5 for r in steps)


def test_shipped_valp_policy_acts_on_another_data_set_through_bench(tmp_path):
    from nasgym.bench import BenchEntry, read_records, run_bench

    valp = "nasgym/VALP-Paper-v0"
    tiny = {"dataset": "digits", "initial_batches": 5, "step_batches": 2, "eval_samples": 48}
    tiny["diagnostics"] = {"samples": 48}
    agent = make_agent("ppo-valp", gym.make(valp, **tiny), seed=0)
    assert agent.model.num_timesteps >= 1000  # trained on MNIST, read here on digits
    entry = BenchEntry(valp, ("ppo-valp",), (0, 1), tiny, 4)
    report = run_bench([entry], tmp_path, progress=False, plots=False, quiet=True)
    assert report.completed == 2 and not report.failed
    steps = [r for r in read_records(tmp_path / "results.jsonl") if r["type"] == "step"]
    assert len(steps) == 8 and len({r["action"] for r in steps}) > 1


def test_a_policy_on_an_env_with_other_actions_is_refused_by_name():
    # the VALP policy acts on the paper preset's 96 actions; VALP-v0 has more
    env = gym.make("nasgym/VALP-v0", initial_batches=2, step_batches=1, eval_samples=48)
    with pytest.raises(ValueError, match=r"Discrete\(96\).*VALP-PaperScaled-v0.*trained for"):
        make_agent("ppo-valp", env, seed=0)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_policy_is_small_and_names_the_command_that_made_it(name):
    path = shipped_path(name)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert path.stat().st_size < 5 * 2**20
    assert "nasgym train" in meta["command"]


def test_the_hypervolume_policy_was_trained_on_the_archive_reward_and_acts_on_digits():
    valp = "nasgym/VALP-Paper-v0"
    tiny = {"dataset": "digits", "initial_batches": 5, "step_batches": 2, "eval_samples": 48}
    meta = json.loads(shipped_path("ppo-valp-hv").with_suffix(".json").read_text())
    assert meta["env_kwargs"]["reward"] == "hypervolume"
    assert '"reward":"hypervolume"' in meta["command"].replace(" ", "")
    env = gym.make(valp, **tiny)
    agent = make_agent("ppo-valp-hv", env, seed=0)
    obs, _ = env.reset(seed=0)
    action = int(np.asarray(agent.predict(obs)[0]).reshape(-1)[0])
    assert env.unwrapped.action_masks()[action]
