"""`nasgym characterize`: the records' schema, the shared control, the report, resuming after
kill -9 (nothing lost, nothing duplicated, same records on any backend), bad input."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import kill_when

from nasgym.bench.jobs import BenchError
from nasgym.characterize import StudyConfig, load_rows, run_characterize, select_moves
from nasgym.characterize.command import parse_operators
from nasgym.diagnostics.calibrate import read_thresholds
from nasgym.envs.valp_mask import Move
from nasgym.registration import PAPER_OPERATORS

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("class", "hist", "sample")
#: tiny budgets on digits: a model takes a few seconds
TINY = {"dataset": "digits", "initial_batches": 20, "step_batches": 5, "per_model": 6}
TIMING = ("train_s", "control_train_s")


def _untimed(rows: list[dict]) -> list[dict]:
    """Records without their wall times (which differ run to run)."""
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _cli(out: Path, models: int, workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nasgym.cli",
        "characterize",
        "--dataset=digits",
        "--initial-batches=20",
        "--step-batches=5",
        "--per-model=6",
        f"--models={models}",
        f"--workers={workers}",
        "--eval-samples=2000",
        "--no-progress",
        f"--out={out}",
    ]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two models studied in this process; (out folder, report, rows)."""
    out = tmp_path_factory.mktemp("characterize")
    result = run_characterize(StudyConfig(**TINY), [0, 1], out, progress=False, quiet=True)
    assert not result.failed, result.failed
    return out, result, load_rows(out, StudyConfig(**TINY))


def test_records_have_the_documented_schema(study):
    out, result, rows = study
    assert result.completed == 2 and result.rows == len(rows) > 0
    required = {
        "seed",
        "app",
        "operator",
        "variant",
        "variant_name",
        "effect",
        "target",
        "target.kind",
        "target.depth",
        "target.width",
        "improve",
        "beats_control",
        "diverged",
    }
    for o in OUTPUTS:
        required |= {
            f"obj_before.{o}",
            f"obj_after.{o}",
            f"obj_control.{o}",
            f"improve.{o}",
            f"gain_before.{o}",
            f"gain_t_before.{o}",
            f"loss_slope_before.{o}",
            f"target.relevance.{o}",
            f"target.dependency_gain.{o}",
            f"gain_after.{o}",
        }
    for row in rows:
        assert required <= set(row), sorted(required - set(row))
        assert row["operator"] in PAPER_OPERATORS
    assert {r["seed"] for r in rows} == {0, 1}
    assert all(len([r for r in rows if r["seed"] == s]) <= TINY["per_model"] for s in (0, 1))
    with open(out / "records.csv") as fh:
        assert len(fh.readlines()) == len(rows) + 1
    # the Parquet file holds the same rows and columns
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(out / "records.parquet")
    assert table.num_rows == len(rows) and required <= set(table.column_names)


def test_one_control_per_model_and_improvement_against_it(study):
    _, _, rows = study
    for seed in (0, 1):
        mine = [r for r in rows if r["seed"] == seed]
        for o in OUTPUTS:
            # the control is shared by every application on the model
            assert len({r[f"obj_control.{o}"] for r in mine}) == 1
            assert len({r[f"obj_before.{o}"] for r in mine}) == 1
            for r in mine:
                expect = math.log(r[f"obj_control.{o}"] / r[f"obj_after.{o}"])
                assert r[f"improve.{o}"] == pytest.approx(expect)
    # the control trained on: it differs from the model before the step
    assert any(r["obj_control.hist"] != r["obj_before.hist"] for r in rows)


def test_relevance_only_for_outputs_a_network_target_reaches(study):
    _, _, rows = study
    nets = [r for r in rows if r["target_type"] == "network"]
    assert nets
    for r in nets:
        assert r["target.depth"] >= 1 and r["target.width"] >= 1
        reached = [o for o in OUTPUTS if math.isfinite(r[f"target.relevance.{o}"])]
        assert reached, r["target"]  # every network reaches some output


def test_report_has_kruskal_dunn_figures_and_thresholds(study):
    out, result, rows = study
    report = json.loads((out / "report.json").read_text())
    for key in (*OUTPUTS, "mean"):
        k = report["kruskal"][key]
        assert {"H", "p", "dunn", "groups"} <= set(k)
        if len(k["groups"]) >= 2 and k["H"] is not None:
            assert 0.0 <= k["p"] <= 1.0
            assert len(k["dunn"]) == len(k["groups"]) * (len(k["groups"]) - 1) // 2
            assert all(0.0 <= d["p_holm"] <= 1.0 for d in k["dunn"])
    names = {v["variant"] for v in report["variants"]}
    assert names == {r["variant_name"] for r in rows}
    assert "Kruskal-Wallis" in (out / "report.md").read_text()
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "fig6_improve_vs_trend.png" in pngs and "fig7_improve_vs_relevance.png" in pngs
    th = read_thresholds(out / "thresholds.json")
    for o in OUTPUTS:
        assert th["outputs"][o]["stuck_gain"] < th["outputs"][o]["steep_gain"]


def test_select_moves_keeps_pairs_and_the_limit():
    moves = [
        Move(op, v, f"n:{t}", (0,))
        for op, variants in [("a", ("gentle", "aggressive")), ("b", (None,)), ("c", ("g", "x"))]
        for t in range(5)
        for v in variants
    ]
    rng = np.random.default_rng(0)
    for limit in (2, 5, 9, 24):
        chosen = select_moves(moves, limit, rng)
        assert len(chosen) <= limit
        groups = {(m.operator, m.target) for m in chosen}
        for op, target in groups:  # whole groups: both variants of a two-variant operator
            n = sum(m.operator == op and m.target == target for m in chosen)
            assert n == (1 if op == "b" else 2)
    assert {m.operator for m in select_moves(moves, 6, rng)} == {"a", "b", "c"}
    assert select_moves(moves, None, rng) == moves


@pytest.mark.slow
def test_kill_9_then_rerun_loses_and_duplicates_nothing(tmp_path, study):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        _cli(out, 4), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    store = out / "results.jsonl"
    kill_when(
        proc, lambda: store.exists() and store.read_bytes().count(b"\n") > 0, 240, "stored model"
    )
    before = store.read_bytes()
    assert 1 <= before.count(b"\n") < 4, "killed mid-run"
    # rerun on the process pool: the stored models are skipped, the others run
    done = subprocess.run(
        _cli(out, 4, workers=2), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert f"resuming {store}" in done.stdout
    after = store.read_bytes()
    assert after.startswith(before[: before.rfind(b"\n") + 1])  # nothing stored is lost
    seeds = [json.loads(line)["seed"] for line in after.splitlines() if line.strip()]
    assert sorted(seeds) == [0, 1, 2, 3]  # nothing duplicated
    rows = load_rows(out, StudyConfig(**TINY))
    assert len(rows) == sum(len(json.loads(x)["applications"]) for x in after.splitlines())
    # a model's records do not depend on the process or backend that ran it
    ref = study[2]
    for seed in (0, 1):
        a = [{k: v for k, v in r.items() if k not in TIMING} for r in rows if r["seed"] == seed]
        b = [{k: v for k, v in r.items() if k not in TIMING} for r in ref if r["seed"] == seed]
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_a_study_past_its_stop_after_starts_no_model_and_keeps_what_is_stored(tmp_path, study):
    out = tmp_path / "copy"
    out.mkdir()
    (out / "results.jsonl").write_bytes((study[0] / "results.jsonl").read_bytes())
    # a limit that has passed by the time the first model's turn comes
    result = run_characterize(
        StudyConfig(**TINY), [0, 1, 2], out, progress=False, quiet=True, stop_after=1e-9
    )
    assert (result.skipped, result.completed, result.not_started) == (2, 0, 1)
    assert (out / "results.jsonl").read_bytes() == (study[0] / "results.jsonl").read_bytes()
    assert result.rows == len(study[2])  # the table and report cover the stored models


def test_bad_input_is_refused_before_any_work(tmp_path):
    with pytest.raises(BenchError, match="did you mean|add_conection"):
        parse_operators("add_conection")
    assert parse_operators("paper") == PAPER_OPERATORS
    assert len(parse_operators("all")) == 12
    with pytest.raises(ValueError, match="per_model"):
        StudyConfig(per_model=1)
    with pytest.raises(ValueError, match="eval_samples"):
        StudyConfig(eval_samples=2)
    with pytest.raises(BenchError, match="data set|dataset") as err:
        run_characterize(StudyConfig(dataset="no-such-set"), [0], tmp_path / "x", quiet=True)
    assert str(err.value).startswith("--dataset 'no-such-set': unknown data set")  # not quoted
    assert not (tmp_path / "x").exists()
    from nasgym.cli import main

    assert main(["characterize", "--operators", "nope", "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "y").exists()


def test_episode_steps_studies_a_mid_episode_state_reproducibly():
    """With episode_steps = K the studied state is the model after K random-agent steps of an
    episode: its record says so, the model differs from the fresh one, and reruns repeat."""
    from nasgym.characterize import study_model

    fresh = study_model(StudyConfig(**TINY), 3)
    walked = study_model(StudyConfig(**TINY, episode_steps=4), 3)
    again = study_model(StudyConfig(**TINY, episode_steps=4), 3)
    assert {r["episode_step"] for r in fresh} == {0}
    assert {r["episode_step"] for r in walked} == {4}
    # the same drawn model, trained further by the walk: different objectives before the step
    assert fresh[0]["obj_before.class"] != walked[0]["obj_before.class"]
    assert _untimed(walked) == _untimed(again)
    # the key of a study without the walk is the key it always had (stored studies resume)
    assert "episode_steps" not in StudyConfig(**TINY).key()
    assert StudyConfig(**TINY, episode_steps=4).key()["episode_steps"] == 4
    with pytest.raises(ValueError, match="episode_steps"):
        StudyConfig(episode_steps=-1)
    with pytest.raises(ValueError, match="episode_steps"):
        study_model(StudyConfig(**TINY, episode_steps=60), 3)


def test_walk_acceptance_always_keeps_every_walk_step():
    """``walk_acceptance="always"``: the K steps before the state keep every candidate (a step
    that made an output worse is kept, as a broken sampler); the study itself is unchanged."""
    from nasgym.characterize import study_model
    from nasgym.envs.valp import VALPEnv

    config = StudyConfig(**TINY, episode_steps=4, walk_acceptance="always")
    assert config.env_kwargs()["acceptance"] == "always"
    assert config.key()["walk_acceptance"] == "always"
    assert "walk_acceptance" not in StudyConfig(**TINY, episode_steps=4).key()
    env = VALPEnv(**config.env_kwargs())
    env.reset(seed=3)
    walk = np.random.default_rng([3, 1])  # the study's walk, replayed
    infos = [env.step(int(walk.choice(np.flatnonzero(env.action_masks()))))[4] for _ in range(4)]
    assert all(i["accepted"] or i["diverged"] for i in infos)
    rows = study_model(config, 3)
    assert {r["episode_step"] for r in rows} == {4}
    assert rows[0]["obj_before.class"] == pytest.approx(env._objectives["class"])
    paper = study_model(StudyConfig(**TINY, episode_steps=4), 3)
    assert rows[0]["model_key"] != paper[0]["model_key"]  # the paper's walk rejected some
    with pytest.raises(ValueError, match="walk_acceptance"):
        StudyConfig(walk_acceptance="sometimes")


def test_detach_gentle_studies_detached_gentle_connections():
    """--detach-gentle: the study's gentle add_connection applications add detached connections
    (the same moves as without it, other outcomes), and the key says so only when set."""
    from nasgym.characterize import study_model
    from nasgym.envs.valp import VALPEnv

    config = StudyConfig(**TINY, operators=("add_connection",), detach_gentle=True)
    env = VALPEnv(**config.env_kwargs())
    assert env._ops["add_connection"].detach_gentle
    assert "detach_gentle" not in StudyConfig(**TINY).key() and config.key()["detach_gentle"]
    plain = study_model(StudyConfig(**TINY, operators=("add_connection",)), 5)
    cut = study_model(config, 5)
    key = ("operator", "variant", "target", "obj_before.hist")
    assert [[r[k] for k in key] for r in plain] == [[r[k] for k in key] for r in cut]
    gentle = [i for i, r in enumerate(plain) if r["variant"] == "gentle"]
    assert gentle and any(plain[i]["obj_after.hist"] != cut[i]["obj_after.hist"] for i in gentle)
    rough = [i for i, r in enumerate(plain) if r["variant"] == "aggressive"]
    assert rough and all(plain[i]["obj_after.hist"] == cut[i]["obj_after.hist"] for i in rough)
    with pytest.raises(ValueError, match="detach_gentle"):
        StudyConfig(detach_gentle="yes")


def test_a_folder_studied_by_two_platforms_is_warned_about(tmp_path, study, capsys):
    """Each model's record names the code and platform that studied it; a folder resumed on
    another machine (same seed, other CPU kernels: other records) says so on the terminal."""
    import shutil

    from nasgym._provenance import code_version, compute_platform

    out = tmp_path / "copy"
    shutil.copytree(study[0], out)
    store = out / "results.jsonl"
    units = [json.loads(line) for line in store.read_text().splitlines() if line.strip()]
    assert {(u["code"], u["platform"]) for u in units} == {(code_version(), compute_platform())}
    assert study[1].warnings == []
    units[1]["platform"] = "torch 2.13.0, AVX512, another CPU"
    store.write_text("".join(json.dumps(u) + "\n" for u in units))
    result = run_characterize(StudyConfig(**TINY), [0, 1], out, progress=False, report=False)
    assert result.skipped == 2 and result.completed == 0
    (warning,) = result.warnings
    assert "studied by 2 platforms" in warning and "AVX512, another CPU (1 models)" in warning
    assert "2 platforms" in capsys.readouterr().err


def test_horizon_records_the_delayed_effect_against_a_control_trained_as_long():
    """--horizon H: the first step's columns are those of a study without it; then the control
    and each candidate train H more steps on shared batches, and improve@h compares them."""
    from nasgym.characterize import study_model

    plain = study_model(StudyConfig(**TINY), 2)
    later = study_model(StudyConfig(**TINY, horizon=2), 2)
    first = [k for k in plain[0] if k not in TIMING]
    assert [[r[k] for k in first] for r in plain] == [[r[k] for k in first] for r in later]
    for r in later:
        for h in (1, 2):
            for o in OUTPUTS:
                control, after = r[f"obj_control@{h}.{o}"], r[f"obj_after@{h}.{o}"]
                assert r[f"improve@{h}.{o}"] == pytest.approx(math.log(control / after))
    # one control per model, trained on: the same at each horizon for every application
    for h in (1, 2):
        assert len({r[f"obj_control@{h}.class"] for r in later}) == 1
    assert later[0]["obj_control@2.hist"] != later[0]["obj_control.hist"]
    again = study_model(StudyConfig(**TINY, horizon=2), 2)
    assert _untimed(later) == _untimed(again)
    assert "horizon" not in StudyConfig(**TINY).key()
    assert StudyConfig(**TINY, horizon=2).key()["horizon"] == 2
    with pytest.raises(ValueError, match="horizon"):
        StudyConfig(horizon=-1)
