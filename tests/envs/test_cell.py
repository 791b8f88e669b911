"""nasgym/Cell-v0: checkers, determinism, pickling, stages and masks, rewards, derivation."""

from __future__ import annotations

import pickle
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import nasgym  # noqa: F401  (registers the ids)
from nasgym.envs.cell import CellEnv
from nasgym.objectives import make_reward

#: a CPU-cheap configuration: 2 stages of 3 steps, tiny batches
SMALL = dict(
    channels=4,
    stage_cells=(3, 4),
    stage_steps=3,
    keep_ops={"normal": (10, 4), "reduce": (6, 2)},
    batch_size=16,
    train_batches=1,
    val_batch_size=32,
    warmup_batches=2,
    tune_batches=0,  # the default 20 tuning batches a step triple the time; tested on its own
    min_op_samples=0,  # 3 steps per stage: every op may be dropped, as the tests below expect
)


def small(**kw) -> CellEnv:
    return CellEnv(**{**SMALL, **kw})


def masked_action(env: CellEnv, rng: np.random.Generator) -> np.ndarray:
    mask, off = env.action_masks(), env.space.mask_offsets
    return np.array(
        [rng.choice(np.flatnonzero(mask[off[d] : off[d + 1]])) for d in range(len(off) - 1)]
    )


def rollout(env: CellEnv, seed: int, actions_seed: int = 0):
    rng = np.random.default_rng(actions_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    done = False
    while not done:
        obs, r, done, trunc, info = env.step(masked_action(env, rng))
        out.append((obs, r, {k: v for k, v in info.items() if k != "objectives"}))
    return out


def assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, tuple | list):
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def test_registered_id_builds_the_env_and_passes_gymnasium_checker():
    env = gym.make("nasgym/Cell-v0", **SMALL)
    assert isinstance(env.unwrapped, CellEnv)
    check_env(env.unwrapped, skip_render_check=True)


def test_sb3_checker():
    from stable_baselines3.common.env_checker import check_env as sb3_check

    # SB3 steps with unmasked random actions: one stage, so that no op is ever dropped
    one_stage = dict(stage_cells=(3,), stage_steps=50, keep_ops={"normal": (10,), "reduce": (6,)})
    sb3_check(small(**one_stage), warn=True)


def test_same_seed_same_trajectory_across_a_stage_change():
    a, b = rollout(small(), seed=5), rollout(small(), seed=5)
    assert len(a) == 1 + 6
    assert_same(a, b)
    c = rollout(small(), seed=6)
    assert [x[1] for x in a[1:]] != [x[1] for x in c[1:]]


def test_pickle_round_trip_continues_identically():
    env = small()
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    env.step(masked_action(env, rng))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(4):  # crosses the stage change
        action = masked_action(env, rng)
        assert_same(env.step(action)[:4], clone.step(action)[:4])


def test_stage_change_drops_ops_deepens_and_masks_them():
    env = small()
    obs, info = env.reset(seed=0)
    assert obs["action_mask"].all() and info["action_mask"].all()
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, _, term, _, info = env.step(masked_action(env, rng))
    assert not term and info["stage"] == 0
    mask = env.action_masks()
    np.testing.assert_array_equal(obs["action_mask"].astype(bool), mask)
    np.testing.assert_array_equal(info["action_mask"], mask)
    off = env.space.mask_offsets
    kept = [int(mask[off[d] : off[d + 1]].sum()) for d in range(28)]
    assert kept == [4] * 14 + [2] * 14
    assert len(env._trainer.model.cells) == 4
    # the kept ops are the ones the agent chose most often in stage 0 (counts from drop_log)
    assert len(env.drop_log) == 1 and len(env.drop_log[0]["dropped"]["normal:0"]) == 6
    # choosing a dropped op is an error naming the decision and the op
    action = masked_action(env, rng)
    dropped = int(np.flatnonzero(~mask[off[3] : off[4]])[0])
    action[3] = dropped
    with pytest.raises(ValueError, match=rf"decision 3 .*'{env.space.ops('normal')[dropped]}'"):
        env.step(action)


@pytest.mark.parametrize("agent_name", ["random", "reinforce"])
def test_agents_never_sample_dropped_ops(agent_name):
    from agents import make_agent

    env = small(stage_steps=4)
    agent = make_agent(agent_name, env, seed=3)
    obs, _ = env.reset(seed=3)
    done, off, seen_stage1 = False, env.space.mask_offsets, 0
    while not done:
        action, _ = agent.predict(obs)
        mask = obs["action_mask"].astype(bool)
        assert all(mask[off[d] + int(a)] for d, a in enumerate(action))
        seen_stage1 += int(not mask.all())
        next_obs, r, done, trunc, info = env.step(action)
        agent.update(obs, action, r, next_obs, done, trunc, info)
        obs = next_obs
    assert seen_stage1 == 4


def test_info_carries_objectives_costs_and_the_eq9_reward():
    env = small()
    _, info0 = env.reset(seed=2)
    assert info0["cost"] == 2  # warm-up batches
    rng = np.random.default_rng(1)
    obs, r, _, _, info = env.step(masked_action(env, rng))
    assert info["cost"] == 3 and info["accepted"] is True
    assert info["objectives"] == {
        "error": 1.0 - info["val_acc"],
        "params": info["params"],
        "latency": info["latency"],
    }
    assert set(CellEnv.objective_spec) == set(info["objectives"])
    assert env.space.from_str(info["arch"]).to_str() == info["arch"]
    assert info["latency"] == pytest.approx(info["flops"] * env.ms_per_mmac)
    # default eq9: P = expected params of a uniform path over all ops at this depth
    table = env.cost_table(3)
    all_ops = [env.space.decision_ops(d) for d in range(28)]
    p_mean = table.mean_cost(all_ops, env.space.cell_types)[0] / 1e6
    expected = make_reward("eq9", P=p_mean, beta=-0.07)(info["val_acc"], info["params"])
    assert r == pytest.approx(expected)
    assert obs["reward"][0] == pytest.approx(r) and info["best_reward"] == r


def test_episode_ends_after_the_last_stage():
    env = small()
    traj = rollout(env, seed=0)
    assert [t[2]["stage"] for t in traj[1:]] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(masked_action(env, np.random.default_rng(0)))
    short = small(max_steps=2)
    short.reset(seed=0)
    ends = [short.step(masked_action(short, np.random.default_rng(0)))[2:4] for _ in range(2)]
    assert ends == [(False, False), (False, True)]


def test_uniform_path_sampling_trains_independently_of_the_agent():
    def second_acc(path_sampling, first_action):
        env = small(path_sampling=path_sampling)
        env.reset(seed=4)
        env.step(np.array([first_action] * 14 + [first_action % 6] * 14))
        info = env.step(np.ones(28, dtype=int))[4]
        return info["train_loss"], info["val_acc"]

    assert second_acc("uniform", 2) == second_acc("uniform", 9)
    assert second_acc("agent", 2) != second_acc("agent", 9)


@pytest.mark.parametrize("warmup_sampling", ["fair", "uniform"])
def test_warmup_trains_every_op_equally_often_when_fair(monkeypatch, warmup_sampling):
    """``warmup_sampling="fair"`` cycles each decision through its ops (FairNAS's strict
    fairness): after 20 batches each of a normal edge's 10 ops and a reduce edge's 6 ops was
    trained exactly 2 and 3-4 times; uniform paths (the default) leave some ops untrained."""
    from nasgym.supernet.trainer import StageTrainer

    seen: list[tuple[str, ...]] = []
    train = StageTrainer.train

    def spy(self, paths):
        seen.extend(tuple(p) for p in paths)
        return train(self, paths)

    monkeypatch.setattr(StageTrainer, "train", spy)
    env = small(warmup_batches=20, warmup_sampling=warmup_sampling)
    env.reset(seed=0)
    counts = [Counter(path[d] for path in seen) for d in range(28)]
    if warmup_sampling == "fair":
        assert all(set(c.values()) == {2} for c in counts[:14])
        assert all(set(c.values()) <= {3, 4} and len(c) == 6 for c in counts[14:])
    else:
        assert any(len(c) < 10 for c in counts[:14])


def test_tune_batches_score_a_tuned_copy_and_leave_the_supernet_as_it_was(monkeypatch):
    """``tune_batches`` fine-tunes the agent's path on the stage's fixed batches before scoring
    it, then puts the shared weights back: the same steps without the tuning (a no-op ``tuned``)
    end with the same supernet, but score the path differently; each step charges the tuning."""
    from contextlib import contextmanager

    import torch

    from nasgym.supernet.trainer import StageTrainer

    def run(tune: bool):
        env = small(tune_batches=3)
        if not tune:

            @contextmanager
            def untuned(self, ops, batches):
                yield

            monkeypatch.setattr(StageTrainer, "tuned", untuned)
        env.reset(seed=2)
        infos = [env.step(np.full(28, k % 6))[4] for k in range(2)]
        monkeypatch.undo()
        return env._trainer.model.state_dict(), infos

    tuned_w, tuned_infos = run(True)
    plain_w, plain_infos = run(False)
    assert [i["val_acc"] for i in run(True)[1]] == [i["val_acc"] for i in tuned_infos]  # same seed
    assert all(torch.equal(tuned_w[k], plain_w[k]) for k in tuned_w)
    assert [i["val_acc"] for i in tuned_infos] != [i["val_acc"] for i in plain_infos]
    assert tuned_infos[1]["cost"] - tuned_infos[0]["cost"] == SMALL["train_batches"] + 3


def test_measured_latency_is_a_positive_wall_clock():
    env = small(latency="measured")
    env.reset(seed=0)
    info = env.step(masked_action(env, np.random.default_rng(0)))[4]
    assert info["latency"] > 0 and info["objectives"]["latency"] == info["latency"]


def test_bad_arguments_and_actions_raise_clear_errors():
    with pytest.raises(ValueError, match="path_sampling"):
        small(path_sampling="policy")
    with pytest.raises(ValueError, match="tune_batches"):
        small(tune_batches=-1)
    with pytest.raises(ValueError, match="warmup_sampling"):
        small(warmup_sampling="sandwich")
    with pytest.raises(ValueError, match="latency"):
        small(latency="wallclock")
    with pytest.raises(ValueError, match="nb201.*not supported.*NB201-v0"):
        small(space="nb201")
    with pytest.raises(ValueError, match="strictly increase"):
        small(stage_cells=(3, 3))
    env = small()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(28, dtype=int))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(27, dtype=int))
    with pytest.raises(ValueError, match="decision 20 .*out of range"):
        env.step(np.array([0] * 20 + [6] + [0] * 7))


def test_derive_and_train_derived_from_scratch():
    env = small()
    rollout(env, seed=0)
    best = env.derive("best")
    assert env.derive("last") is not None
    chosen = env.derive("most_chosen")
    mask = env.action_masks()
    assert all(mask[o] for o in env.space.mask_offsets[:-1] + env.space.to_indices(chosen))
    out = env.train_derived(epochs=1, n_cells=3)
    assert out["arch"] == best.to_str() and out["n_cells"] == 3 and out["channels"] == 4
    assert 0.3 < out["test_acc"] <= 1.0  # 10 classes: far above chance after one epoch
    assert out["params"] > 0 and out["flops"] > 0
    again = env.train_derived(arch=best.to_str(), epochs=1, n_cells=3)
    assert again["test_acc"] == out["test_acc"]
    # bad settings are errors, not silently replaced by the env's defaults
    for key, value, msg in [
        ("channels", 0, "channels"),
        ("lr", 0.0, "learning rate"),
        ("batch_size", 0, "batch size"),
        ("n_cells", 0, "n_cells"),
    ]:
        with pytest.raises(ValueError, match=msg):
            env.train_derived(epochs=1, **{key: value})


@pytest.mark.slow
def test_mnist_from_the_data_directory(shared_data):
    env = small(dataset="mnist", data_dir=str(shared_data), max_train=500)
    env.reset(seed=0)
    assert env.data.image_shape == (28, 28)
    info = env.step(masked_action(env, np.random.default_rng(0)))[4]
    assert 0.0 <= info["val_acc"] <= 1.0


def _allowed(env: CellEnv, d: int) -> np.ndarray:
    off = env.space.mask_offsets
    return np.flatnonzero(env.action_masks()[off[d] : off[d + 1]])


def test_pruning_never_drops_an_op_before_its_minimum_sample_count():
    env = small(stage_steps=12, min_op_samples=2)
    env.reset(seed=2)
    rng = np.random.default_rng(7)
    counts = np.zeros(env.action_masks().shape, dtype=int)
    off = env.space.mask_offsets
    for _ in range(12):
        action = masked_action(env, rng)
        counts[off[:-1] + action] += 1
        env.step(action)
    mask = env.action_masks()
    assert env._stage == 1 and env.drop_log[-1]["ranked_by"] == "counts"
    assert np.all(mask[counts < 2])  # every op sampled fewer than twice is still allowed
    assert (~mask).any() and np.all(counts[~mask] >= 2)  # some op was dropped, each after 2
    n_keep = {"normal": 4, "reduce": 2}
    for d, (ct, e) in enumerate(env.space.decisions):
        kept = mask[off[d] : off[d + 1]]
        low = counts[off[d] : off[d + 1]] < 2
        assert n_keep[ct] <= kept.sum() <= n_keep[ct] + low.sum()
        protected = env.drop_log[-1]["protected"][f"{ct}:{e}"]
        assert len(protected) == low.sum()


def test_pruning_ranks_ops_by_the_published_architecture_probabilities():
    env = small()
    env.reset(seed=0)
    off = env.space.mask_offsets
    rng = np.random.default_rng(1)
    probs = rng.random(env.action_masks().shape)
    for _ in range(3):
        env.set_arch_probs(probs)
        info = env.step(masked_action(env, rng))[-1]
    assert info["policy_source"] == "agent" and env.drop_log[-1]["ranked_by"] == "policy"
    for d, (ct, _) in enumerate(env.space.decisions):
        k = 4 if ct == "normal" else 2
        top = np.sort(np.argsort(-probs[off[d] : off[d + 1]], kind="stable")[:k])
        np.testing.assert_array_equal(_allowed(env, d), top)
    counts = small(prune_by="counts")
    assert counts.prune_by == "counts"
    with pytest.raises(ValueError, match="prune_by"):
        small(prune_by="alpha")
    with pytest.raises(ValueError, match="min_op_samples"):
        small(min_op_samples=-1)
    with pytest.raises(ValueError, match="finite non-negative"):
        env.set_arch_probs(np.ones(5))


def test_info_shows_policy_entropy_and_collapse_onto_one_op():
    env = small()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    info = env.step(masked_action(env, rng))[-1]
    assert info["policy_source"] == "counts"  # no agent published a policy: choice frequencies
    assert info["policy_entropy"].shape == info["policy_max_prob"].shape == (28,)
    uniform = np.ones(env.action_masks().shape)
    env.set_arch_probs(uniform)
    info = env.step(masked_action(env, rng))[-1]
    expected = (14 * np.log(10) + 14 * np.log(6)) / 28
    assert info["mean_entropy"] == pytest.approx(expected)
    assert info["mean_max_prob"] == pytest.approx((14 / 10 + 14 / 6) / 28)
    collapsed = np.full(env.action_masks().shape, 1e-6)
    off = env.space.mask_offsets
    for d in range(28):
        names = env.space.decision_ops(d)
        collapsed[off[d] + names.index("skip_connect")] = 1.0
    env.set_arch_probs(collapsed)
    info = env.step(masked_action(env, rng))[-1]
    assert info["dominant_op"] == "skip_connect" and info["dominant_op_share"] == 1.0
    assert info["mean_max_prob"] > 0.99 and info["mean_entropy"] < 0.01


def test_reinforce_publishes_its_policy_and_the_bench_summary_reports_final_entropy(tmp_path):
    from nasgym.bench import BenchEntry, run_bench

    entry = BenchEntry("nasgym/Cell-v0", ("random", "reinforce"), (0,), SMALL)
    report = run_bench([entry], tmp_path, progress=False, plots=False, quiet=True)
    agents = {a["agent"]: a for a in report.summary["envs"][0]["agents"]}
    for a in agents.values():
        assert 0 < a["info"]["mean_entropy"]["mean"] <= np.log(10)
    runs = report.summary["envs"][0]
    assert runs["agents"][0]["info"]["mean_max_prob"]["n"] == 1
    assert "| mean_entropy |" in report.summary_text
    from agents import make_agent

    env = small()
    agent = make_agent("reinforce", env, seed=0)
    obs, _ = env.reset(seed=0)
    action, _ = agent.predict(obs)
    info = env.step(action)[-1]
    assert info["policy_source"] == "agent"
    probs = agent.probs(agent.layout.mask(obs))
    assert info["policy_max_prob"][0] == pytest.approx(probs[0].max())
