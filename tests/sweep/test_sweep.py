"""nasgym.sweep: calibration, grid, summary numbers against the stored runs, CLI errors, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import kill_when
from scipy import stats

from nasgym import indicators as ind
from nasgym.bench import load_runs, read_records
from nasgym.bench.fronts import true_front
from nasgym.envs.nb201 import OBJECTIVE_SPECS, NB201Env
from nasgym.sweep import SweepConfig, calibration, reward_params, run_sweep, saturation_exponent
from nasgym.sweep.report import paired_test
from nasgym.tables.nb201 import load_nb201

ROOT = Path(__file__).resolve().parents[2]


def test_saturation_exponent_is_where_the_smallest_cell_becomes_optimal():
    values = np.array([1.0, 2.0, 4.0, 1.0])
    acc = np.array([0.50, 0.60, 0.62, 0.40])
    b = saturation_exponent(values, acc)
    assert b == pytest.approx(-np.log(0.6 / 0.5) / np.log(2))  # the steepest slope from cell 0

    def best(e: float) -> int:
        return int(np.argmax(acc * values**e))

    assert best(b * 1.01) == 0 and best(b * 0.99) != 0
    with pytest.raises(ValueError, match="same value"):
        saturation_exponent(np.ones(3), np.array([0.1, 0.2, 0.3]))


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_nb201_grid_spans_the_trade_off_seen_by_the_reward(dataset):
    table = load_nb201()
    acc = table.valid_acc_12(dataset).astype(float) / 100
    params = table.params(dataset).astype(float)
    cal = calibration(dataset)

    def optimum_params(beta: float) -> float:
        with np.errstate(divide="ignore"):
            return float(params[np.argmax(np.log(acc) + beta * np.log(params))])

    assert optimum_params(1.01 * cal["beta_sat"]) == params.min()  # nothing left to trade
    assert optimum_params(0.99 * cal["beta_sat"]) > params.min()
    assert optimum_params(0.0) > 0.8  # accuracy alone picks a large cell
    assert reward_params("eq9", 0.5, dataset) == {"beta": round(0.5 * cal["beta_sat"], 6)}
    eq10 = reward_params("eq10", 0.5, dataset, device="raspi4")
    assert eq10["gamma"] == round(0.5 * calibration(dataset, "raspi4")["gamma_sat"], 6) < 0
    assert eq10["a"] == 0.5 and eq10["P"] > 0 and eq10["L"] > 0
    config = SweepConfig(datasets=(dataset,), reward="eq10", device="raspi4", fractions=(0.0, 0.5))
    kwargs = [e.env_kwargs for e in config.entries()]
    assert kwargs[1]["device"] == "raspi4" and kwargs[1]["reward_params"] == eq10
    assert [e.seeds for e in config.entries()] == [tuple(range(20))] * 2  # paired seeds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fractions": (0.0, 1.5)}, "in \\[0, 1\\]"),
        ({"fractions": (0.1, 0.1)}, "distinct"),
        ({"reward": "accuracy"}, "eq9"),
        ({"datasets": ("cifar11",)}, "cifar10"),
        ({"seeds": ()}, "at least one"),
    ],
)
def test_bad_sweep_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SweepConfig(**kwargs)


def test_paired_test_matches_scipy_and_signs_the_effect():
    x = [0.1, 0.2, 0.15, 0.3, 0.12, 0.11]
    y = [0.2, 0.25, 0.3, 0.29, 0.2, 0.3]
    t = paired_test(x, y)
    assert t["wilcoxon_p"] == pytest.approx(stats.wilcoxon(x, y).pvalue)
    assert t["n"] == 6 and t["lower"] == 5 and -1 < t["rank_biserial"] < 0
    assert paired_test(y, x)["rank_biserial"] == pytest.approx(-t["rank_biserial"])
    assert paired_test(x, x)["wilcoxon_p"] == 1.0


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    config = SweepConfig(
        datasets=("cifar100",),
        agents=("reinforce", "random"),
        seeds=(0, 1, 2, 3),
        fractions=(0.0, 0.2, 0.45),
        time_budget=4000.0,
    )
    report, summary = run_sweep(config, out, progress=False, quiet=True)
    return config, out, report, summary


def test_sweep_summary_agrees_with_the_stored_runs(small_sweep):
    config, out, report, summary = small_sweep
    assert report.completed == 2 * 4 * 3 and not report.failed
    (ds,) = summary["datasets"]
    front = true_front("nasgym/NB201-v0", {"dataset": "cifar100"}, ["test_error", "params"])
    bounds = [OBJECTIVE_SPECS["cifar100"]["test_error"], OBJECTIVE_SPECS["cifar100"]["params"]]
    runs = load_runs(out)
    for agent in ds["agents"]:
        curves: dict[int, list[tuple[float, float]]] = {}
        for f, point in zip(config.fractions, agent["grid"], strict=True):
            mine = [
                r
                for r in runs
                if r.agent == agent["agent"]
                and r.env_kwargs["reward_params"] == reward_params("eq9", f, "cifar100")
            ]
            infos = [r.steps[-1]["info"] for r in sorted(mine, key=lambda r: r.seed)]
            assert [c["arch"] for c in point["chosen"]] == [i["best_arch"] for i in infos]
            assert point["params"]["mean"] == pytest.approx(
                np.mean([i["best_params"] for i in infos])
            )
            assert point["test_acc"]["mean"] == pytest.approx(
                np.mean([i["best_test_acc_200"] for i in infos])
            )
            for r, i in zip(sorted(mine, key=lambda r: r.seed), infos, strict=True):
                curves.setdefault(r.seed, []).append(
                    (100 - i["best_test_acc_200"], i["best_params"])
                )
        for seed, pts in curves.items():
            assert agent["igd_plus_per_seed"][str(seed)] == pytest.approx(
                ind.igd_plus(np.array(pts), front, bounds)
            )
        assert agent["targets"]["monotone_params"] == bool(
            np.all(np.diff([g["params"]["mean"] for g in agent["grid"]]) <= 1e-12)
        )
    (pair,) = ds["paired"]
    assert pair["agent"] == "reinforce" and pair["baseline"] == "random" and pair["n"] == 4
    assert json.loads((out / "sweep.json").read_text()) == summary
    assert "IGD+ reinforce vs random" in (out / "sweep.md").read_text()
    assert (out / "plots" / "sweep.png").stat().st_size > 10_000


def test_sweep_reports_the_protocols_bound_the_rewards_table_optimum(small_sweep):
    config, out, _, summary = small_sweep
    (ds,) = summary["datasets"]
    table = load_nb201()
    test, params = table.test_acc_200("cifar100"), table.params("cifar100")
    for f, b in zip(config.fractions, ds["bound"], strict=True):
        env = NB201Env(**config.env_kwargs("cifar100", f))
        i = b["index"]
        assert b["arch"] == table.arch_str(i)
        rewards = env.table_rewards()
        assert rewards[i] == rewards.max() and b["params"] == pytest.approx(params[i])
        # the bound's gap is measured like a chosen cell's: to the best cell of no more params
        assert b["gap"] == pytest.approx(test[params <= params[i] + 1e-6].max() - test[i], abs=1e-3)
        assert b["gap"] >= 0
    # at beta = 0 the bound is the best 12-epoch validation cell, the NB201 protocol's choice
    assert ds["bound"][0]["arch"] == table.arch_str(int(np.argmax(table.valid_acc_12("cifar100"))))
    assert ds["bound_max_gap"] == max(b["gap"] for b in ds["bound"])
    assert "reward's optimum over the whole table" in (out / "sweep.md").read_text()


def test_table_rewards_are_the_rewards_a_step_earns():
    env = NB201Env(dataset="cifar10", reward="eq9", reward_params={"beta": -0.05})
    env.reset(seed=0)
    rewards = env.table_rewards()
    for _ in range(5):
        _, reward, *_, info = env.step(env.action_space.sample())
        assert reward == rewards[info["index"]]


def test_sweep_rerun_resumes_without_running_again(small_sweep):
    config, out, _, summary = small_sweep
    report, again = run_sweep(config, out, progress=False, quiet=True)
    assert report.skipped == 2 * 4 * 3 and report.completed == 0 and again == summary


def test_a_sweep_past_its_stop_after_keeps_its_runs_and_exits_3(small_sweep, tmp_path, capsys):
    from nasgym.cli import main

    _, out, _, _ = small_sweep
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.jsonl").write_bytes((out / "results.jsonl").read_bytes())
    args = [
        "sweep", "--out", str(copy), "--agent", "reinforce,random", "--datasets", "cifar100",
        "--seeds", "0-4", "--fractions", "0,0.2,0.45", "--budget", "4000", "--no-progress",
        "--stop-after", "0.000001s",  # passed by the time the first new run's turn comes
    ]  # fmt: skip
    assert main(args) == 3
    assert "stopped early: 6 run(s) not started" in capsys.readouterr().out
    assert (copy / "results.jsonl").read_bytes() == (out / "results.jsonl").read_bytes()
    assert (copy / "sweep.json").exists()  # the tables cover the stored runs


def _sweep_cmd(out: Path) -> list[str]:
    return [
        sys.executable, "-m", "nasgym.cli", "sweep", "--out", str(out), "--agent", "random,rea",
        "--datasets", "cifar10", "--seeds", "6", "--fractions", "0,0.1,0.2,0.3,0.45",
        "--no-progress",
    ]  # fmt: skip


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _canon(records: list[dict]) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in r.items() if k != "wall_s"}, sort_keys=True) for r in records
    )


@pytest.mark.slow
def test_sweep_killed_with_sigkill_then_rerun_loses_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "out"
    results = out / "results.jsonl"
    proc = subprocess.Popen(
        _sweep_cmd(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kill_when(proc, lambda: _lines(results) >= 1500, 180, "1500 records")  # of about 6,000
    before = read_records(results)
    assert not (out / "sweep.json").exists()  # killed before the end
    rerun = subprocess.run(_sweep_cmd(out), cwd=ROOT, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    after = read_records(results)
    assert set(_canon(before)) <= set(_canon(after))
    ref = subprocess.run(
        _sweep_cmd(tmp_path / "ref"), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ref.returncode == 0, ref.stderr
    reference = read_records(tmp_path / "ref" / "results.jsonl")
    assert _canon(after) == _canon(reference)  # nothing lost, nothing duplicated
    summary = json.loads((out / "sweep.json").read_text())
    assert summary == json.loads((tmp_path / "ref" / "sweep.json").read_text())


def test_cli_sweep_rejects_bad_arguments_before_writing(tmp_path):
    from nasgym.cli import main

    for args in (["--fractions", "0,x"], ["--datasets", "cifar11"], ["--agent", "nobody"]):
        assert main(["sweep", "--out", str(tmp_path / "o"), *args]) == 2
    assert not (tmp_path / "o").exists()
