"""Cell agents (random, reinforce, rea): episodes on NB201-v0, masks, learning, REINFORCE > random."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from agents import list_agents, make_agent
from nasgym.envs.nb201 import NB201Env

CELL_AGENTS = ("random", "reinforce", "rea")


class MaskedToyEnv(gym.Env):
    """A Dict-observation env with an action mask, like the supernet env (or a Discrete VALP env)."""

    def __init__(self, action_space: gym.Space, mask: np.ndarray) -> None:
        self.action_space = action_space
        self.mask = mask.astype(np.int8)
        self.observation_space = gym.spaces.Dict(
            {
                "x": gym.spaces.Box(0, 1, (1,), np.float32),
                "action_mask": gym.spaces.MultiBinary(len(mask)),
            }
        )

    def obs(self) -> dict:
        return {"x": np.zeros(1, np.float32), "action_mask": self.mask}


def run_episode(agent_name: str, seed: int, env: NB201Env | None = None, **params) -> tuple:
    env = env or NB201Env()
    agent = make_agent(agent_name, env, seed=seed, **params)
    obs, _ = env.reset(seed=seed)
    agent.reset()
    done, info = False, {}
    while not done:
        action, _ = agent.predict(obs)
        assert env.action_space.contains(np.asarray(action))
        nxt, reward, term, trunc, info = env.step(action)
        agent.update(obs, action, reward, nxt, term, trunc, info)
        obs, done = nxt, term or trunc
    return agent, info, env


def test_agents_registered():
    assert set(CELL_AGENTS) <= set(list_agents())


@pytest.mark.parametrize("name", CELL_AGENTS)
def test_each_agent_runs_an_nb201_episode_deterministically(name):
    _, info, env = run_episode(name, seed=0, env=NB201Env(dataset="cifar100", time_budget=4000))
    assert env.done and info["best_valid_acc_12"] > 0 and env.steps > 10
    _, again, _ = run_episode(name, seed=0, env=NB201Env(dataset="cifar100", time_budget=4000))
    assert again["best_arch"] == info["best_arch"] and again["cost"] == info["cost"]


@pytest.mark.parametrize("name", CELL_AGENTS)
def test_masked_multidiscrete_ops_are_never_sampled(name):
    nvec = np.array([4, 3, 5])
    mask = np.ones(nvec.sum(), dtype=bool)
    mask[[0, 2, 4, 5, 8, 10]] = False  # leaves ops {1,3}, {2}, {0,2,4}
    env = MaskedToyEnv(gym.spaces.MultiDiscrete(nvec), mask)
    agent = make_agent(name, env, seed=1)
    allowed = [{1, 3}, {2}, {0, 2, 4}]
    seen = [set(), set(), set()]
    rng = np.random.default_rng(0)
    for _ in range(1500):
        action, _ = agent.predict(env.obs())
        for d, op in enumerate(action):
            assert int(op) in allowed[d]
            seen[d].add(int(op))
        agent.update(env.obs(), action, float(rng.random()), env.obs(), False, False, {})
    assert seen == allowed  # every allowed op does get sampled


def test_masked_discrete_action_random_is_uniform_over_the_mask():
    mask = np.array([0, 1, 1, 0, 1, 0], dtype=bool)
    env = MaskedToyEnv(gym.spaces.Discrete(6), mask)
    agent = make_agent("random", env, seed=0)
    draws = np.array([agent.predict(env.obs())[0] for _ in range(3000)])
    counts = np.bincount(draws, minlength=6)
    assert counts[~mask].sum() == 0 and counts[mask].min() > 900
    with pytest.raises(ValueError, match="action_mask"):
        agent.predict({"action_mask": np.ones(5)})
    with pytest.raises(ValueError, match="no op"):
        agent.predict({"action_mask": np.zeros(6)})


def test_reinforce_masked_ops_get_zero_probability():
    nvec = np.array([3, 3])
    mask = np.array([1, 0, 1, 1, 1, 0], dtype=bool)
    env = MaskedToyEnv(gym.spaces.MultiDiscrete(nvec), mask)
    agent = make_agent("reinforce", env, seed=0, epsilon=0.5)
    agent.logits[0, 1] = 50.0  # even a huge logit on a masked op stays unused
    agent.predict(env.obs())
    p = agent.probs()
    assert p[0, 1] == 0 and p[1, 2] == 0 and np.allclose(p.sum(axis=1), 1)
    assert all(agent.predict(env.obs())[0][0] != 1 for _ in range(500))


def test_reinforce_entropy_falls_as_it_learns():
    agent, _, env = run_episode("reinforce", seed=0)
    start = np.log(5)
    ent = agent.entropy()
    assert ent.shape == (6,) and agent.stats["updates"] == env.steps // agent.batch_size > 20
    assert ent.mean() < 0.8 * start and agent.stats["entropy"] == pytest.approx(ent.mean())
    fresh = make_agent("reinforce", NB201Env(), seed=0)
    assert np.allclose(fresh.entropy(), start)


def test_reinforce_learns_toward_the_better_op():
    env = MaskedToyEnv(gym.spaces.MultiDiscrete([3]), np.ones(3, dtype=bool))
    agent = make_agent("reinforce", env, seed=0, batch_size=4, epsilon=0.1)
    for _ in range(400):
        action, _ = agent.predict(env.obs())
        agent.update(env.obs(), action, 1.0 if action[0] == 2 else 0.0, env.obs(), False, False, {})
    assert (
        agent.probs()[0].argmax() == 2 and agent.predict(env.obs(), deterministic=True)[0][0] == 2
    )


def test_rea_mutates_one_decision_to_a_different_allowed_op():
    env = NB201Env()
    agent = make_agent("rea", env, seed=0, sample_size=10)
    mask = np.ones((6, 5), dtype=bool)
    parent = np.array([0, 1, 2, 3, 4, 0])
    for _ in range(200):
        child = agent.mutate(parent, mask)
        assert (child != parent).sum() == 1
    mask[:, 0] = False
    child = agent.mutate(parent, mask)  # ops that became masked are repaired first
    assert mask[np.arange(6), child].all()
    with pytest.raises(ValueError, match="sample_size"):
        make_agent("rea", env, sample_size=11)


def test_reinforce_defaults_take_several_samples_per_update():
    env = MaskedToyEnv(gym.spaces.MultiDiscrete([3, 3]), np.ones(6, dtype=bool))
    agent = make_agent("reinforce", env, seed=0)
    assert agent.batch_size > 1  # TND-NAS: several multinomial samples per policy update
    start = agent.logits.copy()
    for k in range(agent.batch_size):
        assert np.array_equal(agent.logits, start) and agent.stats["updates"] == 0
        action, _ = agent.predict(env.obs())
        agent.update(env.obs(), action, float(k), env.obs(), False, False, {})
    assert agent.stats["updates"] == 1 and not np.array_equal(agent.logits, start)


def test_reinforce_beats_random_search_at_equal_budget():
    # default REINFORCE (several samples per update) vs random search on 100 fixed seeds each;
    # on disjoint blocks of 100 seeds the p-value stays below 1e-4, on blocks of 30 it does not
    seeds = range(100)
    rf = [run_episode("reinforce", s)[1]["best_valid_acc_12"] for s in seeds]
    rs = [run_episode("random", s)[1]["best_valid_acc_12"] for s in seeds]
    assert mannwhitneyu(rf, rs, alternative="greater").pvalue < 0.01
