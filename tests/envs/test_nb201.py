"""nasgym/NB201-v0: checkers, protocol, table values, determinism, pickling, errors, speed."""

from __future__ import annotations

import csv
import pickle
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import nasgym  # noqa: F401  (registers the ids)
from nasgym import indicators as ind
from nasgym.envs.nb201 import NB201Env
from nasgym.tables import nb201 as tables

CELL1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
CELL1_ACTION = [3, 3, 4, 1, 3, 1]


def _episode(env, seed, n=None):
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    out, done = [], False
    while not done and (n is None or len(out) < n):
        obs, r, term, trunc, info = env.step(rng.integers(0, 5, 6))
        out.append((obs, r, info["arch"], info["cost"], info["best_arch"], info["in_budget"]))
        done = term or trunc
    return out


def test_checkers_pass():
    gym_check_env(gym.make("nasgym/NB201-v0").unwrapped, skip_render_check=True)
    sb3_check_env(NB201Env(dataset="cifar100", device="titanx_1"))


def test_info_matches_source_tables(shared_data):
    env = NB201Env(device="raspi4")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(CELL1_ACTION)
    with open(shared_data / "nb201" / "nb201_merged_accuracy.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["arch_index"] == "1")
    with open(shared_data / "nb201" / "nb201_help_latency_ms_25devices.csv", newline="") as fh:
        lat = next(r for r in csv.DictReader(fh) if r["arch_index"] == "1")
    assert info["arch"] == row["arch_str"] == CELL1 and info["index"] == 1
    assert info["valid_acc_12"] == pytest.approx(float(row["c10valid_valid_12"]), abs=1e-4)
    assert reward == pytest.approx(float(row["c10valid_valid_12"]) / 100, abs=1e-6)
    assert info["test_acc_200"] == pytest.approx(float(row["c10_test_200"]), abs=1e-4)
    assert info["objectives"]["test_error"] == pytest.approx(
        100 - float(row["c10_test_200"]), abs=1e-4
    )
    train12 = float(row["c10valid_train_time_200ep_s"]) * 12 / 200
    assert (
        info["train_time"] == pytest.approx(train12, rel=1e-6)
        and info["cost"] == info["train_time"]
    )
    assert info["latency"] == pytest.approx(float(lat["raspi4"]), rel=1e-6)
    assert info["params"] == pytest.approx(0.802426, abs=1e-6) and info["accepted"] is True
    assert info["best_arch"] == CELL1 and info["best_test_acc_200"] == info["test_acc_200"]
    assert set(info["objectives"]) == set(NB201Env.objective_spec)


@pytest.mark.parametrize(
    ("dataset", "valid_col", "test_col"),
    [
        ("c100", "c100_valid_12", "c100_test_200"),
        ("ImageNet16-120", "in16_valid_12", "in16_test_200"),
    ],
)
def test_other_datasets_use_their_columns(dataset, valid_col, test_col):
    table = tables.load_nb201()
    env = NB201Env(dataset=dataset)
    env.reset(seed=0)
    info = env.step(CELL1_ACTION)[-1]
    assert info["valid_acc_12"] == pytest.approx(float(table.column(valid_col)[1]), abs=1e-4)
    assert info["test_acc_200"] == pytest.approx(float(table.column(test_col)[1]), abs=1e-4)


def test_budget_protocol_and_incumbent():
    env = NB201Env(time_budget=3000)
    steps = _episode(env, seed=3)
    costs = [s[3] for s in steps]
    assert all(b >= a for a, b in zip(costs, costs[1:], strict=False)) and costs[-1] <= 3000
    assert 3000 - costs[-1] < env._time.max()  # stops only once the budget is (nearly) spent
    # the incumbent is the best 12-epoch validation accuracy among the evaluations that fit
    best = max((s for s in steps if s[5]), key=lambda s: s[1])
    assert steps[-1][4] == best[2] and all(s[5] for s in steps[:-1])
    with pytest.raises(RuntimeError, match="reset"):
        env.step([0] * 6)


def test_overrunning_evaluation_is_not_charged_and_repeats_cost_again():
    table = tables.load_nb201()
    t_skip = float(table.train_time_12[table.index_of([1] * 6)])
    t_conv = float(table.train_time_12[table.index_of([3] * 6)])
    assert t_conv / 2 > table.train_time_12.min()
    env = NB201Env(time_budget=2 * t_skip + t_conv / 2)
    env.reset(seed=0)
    first = env.step([1] * 6)[-1]
    _, _, term, _, info = env.step([1] * 6)
    assert not term and info["cost"] == pytest.approx(2 * t_skip, rel=1e-6)  # repeats cost again
    _, reward, term, _, info = env.step([3] * 6)  # does not fit the remaining budget
    assert (
        term and info["in_budget"] is False and info["cost"] == pytest.approx(2 * t_skip, rel=1e-6)
    )
    assert reward == pytest.approx(info["valid_acc_12"] / 100)
    assert info["best_arch"] == first["arch"]  # the overrunning cell never becomes the incumbent
    assert info["objectives"] == {}  # nothing was evaluated: no indicator may count this step
    free = NB201Env(charge_repeats=False)
    free.reset(seed=0)
    cost = free.step([1] * 6)[-1]["cost"]
    assert free.step([1] * 6)[-1]["cost"] == cost


def test_incumbent_is_the_best_reward_cell_not_the_best_accuracy_cell():
    # all-conv3x3 is far more accurate than all-skip but ~20x larger: under eq9 with a strong
    # size penalty the small cell earns more, and the incumbent must follow the reward
    env = NB201Env(reward="eq9", reward_params={"P": 1.0, "beta": -0.3})
    env.reset(seed=0)
    _, r_big, _, _, big = env.step([3] * 6)
    _, r_small, _, _, small = env.step([1] * 6)
    assert big["valid_acc_12"] > small["valid_acc_12"] and r_small > r_big
    assert small["best_arch"] == small["arch"] and small["best_index"] == small["index"]
    assert small["best_reward"] == r_small
    for key in ("test_acc_200", "params", "flops", "latency", "valid_acc_12"):
        assert small[f"best_{key}"] == small[key]
    # the same two cells under the accuracy reward: the accurate one stays chosen
    acc = NB201Env()
    acc.reset(seed=0)
    acc.step([3] * 6)
    assert acc.step([1] * 6)[-1]["best_arch"] == big["arch"]


def test_default_reward_incumbent_is_the_best_validation_cell_on_every_step():
    env = NB201Env(dataset="cifar100", time_budget=4000)
    rng = np.random.default_rng(5)
    env.reset(seed=5)
    seen, done = [], False
    while not done:
        *_, term, trunc, info = env.step(rng.integers(0, 5, 6))
        done = term or trunc
        if info["in_budget"]:
            seen.append((info["valid_acc_12"], -len(seen), info["arch"]))
        assert info["best_arch"] == max(seen)[2]  # highest validation, first one on ties


def test_truncation_by_max_steps():
    env = NB201Env(max_steps=3)
    env.reset(seed=0)
    flags = [env.step([2] * 6)[2:4] for _ in range(3)]
    assert flags[-1] == (False, True) and not any(any(f) for f in flags[:-1])


def test_same_seed_same_trajectory_and_pickle_round_trip():
    a, b = _episode(NB201Env(), seed=7), _episode(NB201Env(), seed=7)
    assert [s[2:] for s in a] == [s[2:] for s in b]
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
    env = NB201Env(dataset="in16", reward="eq9", reward_params={"beta": -0.1})
    env.reset(seed=0)
    env.step(CELL1_ACTION)
    clone = pickle.loads(pickle.dumps(env))
    assert len(pickle.dumps(env)) < 100_000  # the table is not pickled
    for action in ([0, 1, 2, 3, 4, 0], [3] * 6):
        x, y = env.step(action), clone.step(action)
        assert x[1:4] == y[1:4] and x[4]["cost"] == y[4]["cost"] and np.array_equal(x[0], y[0])


def test_observation_layout():
    env = NB201Env()
    obs, _ = env.reset(seed=0)
    assert not obs.any() and env.observation_space.contains(obs)
    obs = env.step(CELL1_ACTION)[0]
    assert np.flatnonzero(obs[:30]).tolist() == [5 * e + o for e, o in enumerate(CELL1_ACTION)]
    assert obs[30] == obs[31] == pytest.approx(env._valid[1] / 100) and 0 < obs[32] < 1
    assert env.action_masks().all() and env.action_masks().shape == (30,)


def test_bad_arguments_and_actions():
    env = NB201Env()
    env.reset(seed=0)
    for bad in ([5, 0, 0, 0, 0, 0], [-1] * 6, [0] * 5, [[0] * 6], [0.5] * 6):
        with pytest.raises(ValueError):
            env.step(bad)
    with pytest.raises(KeyError, match="cifar100"):
        NB201Env(dataset="cifar1000")
    with pytest.raises(KeyError, match="pixel3"):
        NB201Env(device="pixel4")
    with pytest.raises(ValueError, match="time_budget"):
        NB201Env(time_budget=0)
    with pytest.raises(ValueError, match="beta"):
        NB201Env(reward="eq9", reward_params={"beta": "x"})


def test_missing_or_corrupt_table_gives_clear_error(tmp_path):
    with pytest.raises(tables.TableError, match="build_nb201"):
        NB201Env(table_path=tmp_path / "absent.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(tables.TableError, match="rebuild"):
        tables.load_nb201(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, ops=np.zeros((3, 6), np.uint8))
    with pytest.raises(tables.TableError, match="lacks"):
        tables.load_nb201(partial)


def test_loads_fast_and_steps_in_microseconds():
    start = time.perf_counter()
    tables._load.__wrapped__(tables.DEFAULT_PATH)  # an uncached load
    assert time.perf_counter() - start < 0.5
    env = NB201Env(time_budget=1e12)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 5, (2000, 6))
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    assert (time.perf_counter() - start) / len(actions) < 200e-6


def test_table_lookup_matches_official_order(shared_data):
    table = tables.load_nb201()
    with open(shared_data / "nb201" / "nb201_merged_accuracy.csv", newline="") as fh:
        strings = [r["arch_str"] for r in csv.DictReader(fh)]
    for i in range(0, len(strings), 97):
        assert table.arch_str(i) == strings[i]
        assert table.index_of(table.ops[i]) == i
    assert table.test_acc_200("cifar10").max() == pytest.approx(94.37, abs=0.01)


def test_build_script_reproduces_shipped_table(shared_data, tmp_path):
    from nasgym.tables.build_nb201 import main

    out = tmp_path / "nb201.npz"
    main(["--src", str(shared_data / "nb201"), "--out", str(out)])
    assert out.stat().st_size < 5_000_000
    with np.load(out) as new, np.load(tables.DEFAULT_PATH) as shipped:
        assert set(new.files) == set(shipped.files)
        for key in new.files:
            assert np.array_equal(new[key], shipped[key]), key


def _broken(table) -> np.ndarray:
    """Cells whose output is not connected to the input (chance-level accuracy)."""
    ops = table.ops.astype(int)
    # edges (0,1), (0,2), (1,2), (0,3), (1,3), (2,3); op 0 is "none"
    n1 = ops[:, 0] > 0
    n2 = (ops[:, 1] > 0) | (n1 & (ops[:, 2] > 0))
    n3 = (ops[:, 3] > 0) | (n1 & (ops[:, 4] > 0)) | (n2 & (ops[:, 5] > 0))
    return ~n3


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_objective_spec_is_fixed_per_dataset_from_the_table(dataset):
    table = tables.load_nb201()
    env = NB201Env(dataset=dataset)
    error = 100 - table.test_acc_200(dataset).astype(np.float64)
    params = table.params(dataset).astype(np.float64)
    (e_ideal, e_ref), (p_ideal, p_ref) = env.objective_spec.values()
    assert list(env.objective_spec) == ["test_error", "params"]
    # the documented derivation: best error rounded down, median error rounded up, max params
    # rounded up to 0.1 M
    assert e_ideal == np.floor(error.min()) and e_ref == np.ceil(np.median(error))
    assert p_ideal == 0 and p_ref == pytest.approx(np.ceil(params.max() * 10) / 10)
    # no cell is better than the ideal; every cell fits the params range
    assert (error >= e_ideal).all() and (params < p_ref).all()
    # the broken (disconnected) cells are beyond the reference; the good half is inside
    broken = _broken(table)
    assert broken.sum() == 341 and (error[broken] > e_ref).all()
    assert (error[~broken] < e_ref).mean() >= 0.5
    # the table's Pareto front lies inside the box, but for its one or two smallest cells
    points = np.c_[error, params]
    front = points[ind.nondominated_mask(points)]
    assert 1 <= (front[:, 0] >= e_ref).sum() <= 2
    # cells beyond the reference add no hypervolume; the box is what separates good cells
    bounds = list(env.objective_spec.values())
    inside = points[~broken & (error < e_ref)]
    assert ind.hypervolume(points[broken], bounds) == 0.0
    assert ind.hypervolume(points, bounds) == pytest.approx(ind.hypervolume(inside, bounds))
    assert 0 < ind.hypervolume(points, bounds) < 1
    env.reset(seed=0)
    assert set(env.step(CELL1_ACTION)[-1]["objectives"]) == set(env.objective_spec)


def test_objective_spec_differs_per_dataset_and_class_keeps_the_default():
    specs = {d: NB201Env(dataset=d).objective_spec for d in ("c10", "c100", "in16")}
    assert len({tuple(s["test_error"]) for s in specs.values()}) == 3
    assert NB201Env.objective_spec == specs["c10"]  # the class holds the cifar10 default
    assert pickle.loads(pickle.dumps(NB201Env(dataset="c100"))).objective_spec == specs["c100"]
    # an instance's spec is its own: changing it leaves the class and other instances alone
    env = NB201Env()
    env.objective_spec["params"] = (0.0, 9.0)
    assert NB201Env.objective_spec["params"] == (0.0, 1.6) == NB201Env().objective_spec["params"]
