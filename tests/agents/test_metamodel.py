"""The operator metamodel: features (records = observation), fit/save/load, refused pickles,
``nasgym train metamodel``, and the ``metamodel`` agent through ``nasgym bench``."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from bench_replay import assert_benches_and_replays

import nasgym  # noqa: F401  (registers the envs)
from agents import make_agent
from nasgym.characterize import StudyConfig
from nasgym.characterize.study import study_model
from nasgym.envs.valp import VALPEnv
from nasgym.training.metamodel import cross_validate
from policies.metamodel import Metamodel, observation_features, record_features, state_keys

OUTPUTS = ["class", "hist", "sample"]
TINY_STUDY = {"dataset": "digits", "initial_batches": 20, "step_batches": 5, "per_model": 8}
TINY_ENV = {"dataset": "digits", "initial_batches": 5, "step_batches": 3, "max_steps": 3}


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    """Characterize records of two tiny digits models."""
    config = StudyConfig(**TINY_STUDY)
    return pd.DataFrame([r for seed in (0, 1) for r in study_model(config, seed)])


def test_record_and_observation_features_agree(records):
    """The metamodel is trained on records and acts on observations: the same state and move
    must give the same features either way."""
    variants = sorted(records["variant_name"].unique())
    config = StudyConfig(**TINY_STUDY)
    checked = 0
    for seed in (0, 1):
        env = VALPEnv(**config.env_kwargs())
        obs, _ = env.reset(seed=seed)
        rows = records[records["seed"] == seed].reset_index(drop=True)
        x_rec, _ = record_features(rows, variants, OUTPUTS)
        nets = env._model.valp.network_ids
        moves = [
            (v, nets.index(t)) for v, t in zip(rows["variant_name"], rows["target"], strict=True)
        ]
        x_obs = observation_features(obs, variants, OUTPUTS, moves)
        np.testing.assert_allclose(x_obs, x_rec, rtol=1e-5, atol=1e-6, equal_nan=True)
        checked += len(rows)
    assert checked >= 10


def test_regress_is_recorded_mid_episode_and_the_agent_reads_the_same(tmp_path):
    """``regress_before.<o>`` (log of the objective over the episode's lowest) is what the agent
    computes from its own observations, so a metamodel fitted with it acts on the same
    features; a metamodel saved without it still loads and reads the old features."""
    config = StudyConfig(**TINY_STUDY, episode_steps=3)
    rows = pd.DataFrame(study_model(config, 0))
    state = state_keys(rows, OUTPUTS)
    assert state[-1] == "regress"
    # the study's walk, replayed: the observations an agent would have seen
    env = VALPEnv(**config.env_kwargs())
    seen = [env.reset(seed=0)[0]]
    walk = np.random.default_rng([0, 1])
    for _ in range(3):
        seen.append(env.step(int(walk.choice(np.flatnonzero(env.action_masks()))))[0])
    objectives = np.array([o["objectives"] for o in seen], dtype=float)
    expected = np.maximum(np.log(objectives[-1] / objectives.min(axis=0)), 0.0)
    got = rows[[f"regress_before.{o}" for o in OUTPUTS]].to_numpy()
    np.testing.assert_allclose(got, np.broadcast_to(expected, got.shape), atol=1e-5)
    variants = sorted(rows["variant_name"].unique())
    x_rec, y = record_features(rows, variants, OUTPUTS, state=state)
    path = (
        Metamodel(variants, OUTPUTS, max_iter=5, min_samples_leaf=2, state=state)
        .fit(x_rec, y)
        .save(tmp_path / "r.skops")
    )
    agent = make_agent("metamodel", env, path=str(path))
    assert agent.model.state == state
    for obs in seen[:-1]:
        agent._with_regress(obs)
    nets = env._model.valp.network_ids
    moves = [(v, nets.index(t)) for v, t in zip(rows["variant_name"], rows["target"], strict=True)]
    x_obs = observation_features(agent._with_regress(seen[-1]), variants, OUTPUTS, moves, state)
    np.testing.assert_allclose(x_obs, x_rec, rtol=1e-5, atol=1e-5, equal_nan=True)
    agent.predict(seen[-1])  # scores through the same features
    agent.reset()
    assert agent._lowest is None
    old = make_agent("metamodel", env)  # the shipped metamodel, saved before regress existed
    assert "regress" not in old.model.state
    old.predict(seen[-1])


def test_fit_save_load_round_trips_exactly(tmp_path, records):
    variants = sorted(records["variant_name"].unique())
    x, y = record_features(records, variants, OUTPUTS)
    model = Metamodel(variants, OUTPUTS, max_iter=30, min_samples_leaf=2, meta={"note": "t"})
    model.fit(x, y)
    path = model.save(tmp_path / "m")
    assert path.suffix == ".skops" and path.with_suffix(".json").is_file()
    loaded = Metamodel.load(path)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert (loaded.variants, loaded.outputs, loaded.params) == (
        model.variants,
        model.outputs,
        model.params,
    )
    assert loaded.meta["note"] == "t"
    # and the fit itself is reproducible under the same seed
    again = Metamodel(variants, OUTPUTS, max_iter=30, min_samples_leaf=2).fit(x, y)
    assert np.array_equal(again.predict(x), model.predict(x))


def test_a_quantile_metamodel_predicts_upper_quantiles_and_round_trips(tmp_path, records):
    variants = sorted(records["variant_name"].unique())
    x, y = record_features(records, variants, OUTPUTS)
    kw = {"max_iter": 30, "min_samples_leaf": 2}
    mean = Metamodel(variants, OUTPUTS, **kw).fit(x, y)
    upper = Metamodel(variants, OUTPUTS, quantile=0.9, **kw).fit(x, y)
    # most measured improvements lie below their predicted 0.9-quantile, and the quantile sits
    # above the predicted mean on average
    assert np.mean(y <= upper.predict(x) + 1e-9) > 0.75
    assert upper.predict(x).mean() > mean.predict(x).mean()
    loaded = Metamodel.load(upper.save(tmp_path / "q"))
    assert loaded.params["quantile"] == 0.9 and loaded.params["loss"] == "quantile"
    assert np.array_equal(loaded.predict(x), upper.predict(x))
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="quantile"):
            Metamodel(variants, OUTPUTS, quantile=bad)
    with pytest.raises(ValueError, match="needs the quantile"):
        Metamodel(variants, OUTPUTS, loss="quantile")


def test_a_pickle_is_refused_with_a_clear_error(tmp_path, records):
    variants = sorted(records["variant_name"].unique())
    x, y = record_features(records, variants, OUTPUTS)
    model = Metamodel(variants, OUTPUTS, max_iter=5, min_samples_leaf=2).fit(x, y)
    good = model.save(tmp_path / "m.skops")
    for name in ("m.pkl", "evil.skops"):
        bad = tmp_path / name
        bad.write_bytes(pickle.dumps(model.models))
        bad.with_suffix(".json").write_text(good.with_suffix(".json").read_text())
        with pytest.raises(ValueError, match="refusing to load"):
            Metamodel.load(bad)


def test_bad_shapes_are_refused(records):
    model = Metamodel(["a"], OUTPUTS)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((30, 3)), np.zeros((30, 3)))


def test_train_command_writes_a_loadable_model_with_its_figures(tmp_path, records):
    data = tmp_path / "records.csv"
    records.to_csv(data, index=False)
    # the characterize run's markers beside the records name the code and platform
    study = {"type": "done", "env": "nasgym/characterize", "env_kwargs": {}, "agent": "x"}
    markers = [{**study, "seed": s, "code": "c1", "platform": "p1"} for s in (0, 1)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(m) + "\n" for m in markers))
    out = tmp_path / "mm.skops"
    cmd = [sys.executable, "-m", "nasgym.cli", "train", "metamodel", "--data", str(data)]
    cmd += ["--out", str(out), "--folds", "2", "--max-iter", "20", "--min-samples-leaf", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "grouped 2-fold CV" in done.stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["rows"] == len(records) and meta["models"] == 2
    assert set(meta["cv"]["spearman"]) == set(OUTPUTS)
    assert meta["cv"]["random_upside"] >= 0.0 and "pick_upside_wilcoxon_p" in meta["cv"]
    assert meta["command"].startswith("nasgym train metamodel --data")
    assert meta["records_code"] == {"c1": 2} and meta["records_platform"] == {"p1": 2}
    # the records' wall times change the file's hash run to run, not the features' hash
    records.assign(train_s=records["train_s"] + 1.0).to_csv(tmp_path / "again.csv", index=False)
    again = [*cmd[:6], str(tmp_path / "again.csv"), "--out", str(tmp_path / "again.skops")]
    again += ["--folds", "0", "--max-iter", "20", "--min-samples-leaf", "2"]
    assert subprocess.run(again, capture_output=True).returncode == 0
    meta2 = json.loads((tmp_path / "again.json").read_text())
    assert meta2["data"][0]["sha256"] != meta["data"][0]["sha256"]
    assert meta2["features_sha256"] == meta["features_sha256"]
    Metamodel.load(out)
    bad = subprocess.run(
        [*cmd[:6], str(tmp_path / "nothing"), "--out", str(out)], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "no characterize records" in bad.stderr


def test_a_metamodel_of_the_delayed_effect_trains_on_improve_at_h(tmp_path):
    """``--target improve@H`` fits the improvement H steps after the edit (records of a study
    with ``horizon`` >= H); records without those columns are refused by name."""
    config = StudyConfig(**TINY_STUDY, horizon=2)
    rows = pd.DataFrame([r for seed in (0, 1) for r in study_model(config, seed)])
    variants = sorted(rows["variant_name"].unique())
    x, later = record_features(rows, variants, OUTPUTS, "improve@2")
    _, now = record_features(rows, variants, OUTPUTS)
    assert later.shape == now.shape and not np.array_equal(later, now)
    data = tmp_path / "records.csv"
    rows.to_csv(data, index=False)
    out = tmp_path / "later.skops"
    cmd = [sys.executable, "-m", "nasgym.cli", "train", "metamodel", "--data", str(data)]
    cmd += ["--folds", "0", "--max-iter", "20", "--min-samples-leaf", "2"]
    done = subprocess.run([*cmd, "--out", str(out), "--target", "improve@2"], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.with_suffix(".json").read_text())["target"] == "improve@2"
    assert np.allclose(Metamodel.load(out).predict(x).shape, later.shape)
    bad = subprocess.run(
        [*cmd, "--out", str(tmp_path / "x.skops"), "--target", "improve@3"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "no improve@3.class" in bad.stderr and "--horizon" in bad.stderr
    # the CV of a one-step metamodel scored on the delayed target: what its picks still earn
    # H steps later, on the scale of the delayed metamodel's own CV
    rows = pd.concat([rows, rows.assign(seed=rows["seed"] + 2)], ignore_index=True)
    params = {"max_iter": 20, "min_samples_leaf": 2}
    now_cv = cross_validate(rows, 2, "improve", **params)
    scored = cross_validate(rows, 2, "improve", "improve@2", **params)
    assert now_cv["scored_on"] == "improve" and scored["scored_on"] == "improve@2"
    seeds = rows.loc[rows["target_type"] == "network", "seed"].to_numpy()[: len(later)]
    per_model = [later[seeds == s].mean() for s in (0, 1)]
    assert scored["random_improve"] == pytest.approx(np.mean(per_model))
    assert scored["random_improve"] != pytest.approx(now_cv["random_improve"])
    assert scored["spearman"] != now_cv["spearman"]
    cmd[-6:-4] = ["--folds", "2"]
    done = subprocess.run(
        [*cmd, "--out", str(tmp_path / "s.skops"), "--cv-target", "improve@2"], capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "s.json").read_text())["cv"]["scored_on"] == "improve@2"


def test_the_agent_picks_the_best_scored_valid_action():
    env = gym.make("nasgym/VALP-Paper-v0", **TINY_ENV)
    obs, _ = env.reset(seed=0)
    for scal in ("hypervolume", "mean", {"class": 1.0}):
        agent = make_agent("metamodel", env, seed=0, scalarisation=scal)
        actions, pred, score = agent.scores(obs)
        action, _ = agent.predict(obs)
        assert obs["action_mask"][action] and action in actions
        assert score[actions.index(action)] == pytest.approx(score.max())
        assert pred.shape == (len(actions), 3)
    mean = make_agent("metamodel", env, seed=0, scalarisation="mean")
    _, pred, score = mean.scores(obs)
    assert np.allclose(score, pred.mean(axis=1))
    with pytest.raises(ValueError, match="scalarisation"):
        make_agent("metamodel", env, scalarisation="median")


def test_exclude_failed_skips_a_rejected_move_until_the_architecture_changes():
    env = gym.make("nasgym/VALP-Paper-v0", **TINY_ENV)
    obs, _ = env.reset(seed=0)
    rejected = {"accepted": False, "current_descriptor": "A"}
    plain = make_agent("metamodel", env, seed=0, exclude_failed=False)
    first, _ = plain.predict(obs)
    plain.update(obs, first, 0.0, obs, False, False, rejected)
    assert plain.predict(obs)[0] == first  # without it, the failed move is proposed again
    agent = make_agent("metamodel", env, seed=0)  # the default excludes it
    assert agent.predict(obs)[0] == first
    agent.update(obs, first, 0.0, obs, False, False, rejected)
    second, _ = agent.predict(obs)
    actions, _, score = agent.scores(obs)
    rest = [i for i, a in enumerate(actions) if a != first]
    assert second != first and score[actions.index(second)] == pytest.approx(score[rest].max())
    agent.update(obs, second, 0.0, obs, False, False, rejected)
    assert agent.excluded == {first, second}
    agent.update(obs, second, 0.0, obs, False, False, {"accepted": True, "current_descriptor": "B"})
    assert agent.excluded == set() and agent.predict(obs)[0] == first  # a new architecture
    for a in actions:  # every scored move excluded: it still picks one of them
        agent.update(obs, a, 0.0, obs, False, False, {**rejected, "current_descriptor": "B"})
    assert agent.predict(obs)[0] in actions
    agent.reset()
    assert agent.excluded == set()


@pytest.mark.slow
def test_metamodel_agent_runs_through_bench_and_replays(tmp_path):
    assert_benches_and_replays(tmp_path, "nasgym/VALP-Paper-v0", "metamodel", TINY_ENV, 3)
