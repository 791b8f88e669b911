"""The `nasgym` command line end to end, on NAS-Bench-201 with tiny budgets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nasgym import cli
from nasgym.bench import BenchEntry, read_records

NB201 = "nasgym/NB201-v0"


def _bench(out, *extra: str) -> list[str]:
    return ["bench", "--env", NB201, "--agent", "random", "--seeds", "2", "--steps", "15",
            "--out", str(out), "--no-progress", *extra]  # fmt: skip


@pytest.mark.parametrize("command", ["envs", "agents", "spaces", "bench", "plot", "search"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: nasgym {command}" in capsys.readouterr().out


def test_listings_name_what_is_registered_with_a_doc_line(capsys):
    assert cli.main(["envs"]) == 0
    out = capsys.readouterr().out
    assert NB201 in out and "NAS-Bench-201" in out
    assert cli.main(["agents"]) == 0
    assert "random" in capsys.readouterr().out
    assert cli.main(["spaces"]) == 0
    assert "nb201" in capsys.readouterr().out


def test_bench_end_to_end_writes_records_summary_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(_bench(out)) == 0
    printed = capsys.readouterr().out
    assert "| random | 2/2 |" in printed and "best_test_acc_200" in printed
    recs = read_records(out / "results.jsonl")
    assert len(recs) == 2 * 15 + 2
    assert all(isinstance(r["info"]["test_acc_200"], float) for r in recs if r["type"] == "step")
    summary = json.loads((out / "summary.json").read_text())
    (env,) = summary["envs"]
    (agent,) = env["agents"]
    assert env["env"] == NB201 and env["objectives"] == ["test_error", "params"]
    assert env["true_front_points"] > 0
    assert 0 < agent["hypervolume"]["mean"] < 1 and agent["igd_plus"]["mean"] > 0
    assert agent["info"]["best_test_acc_200"]["n"] == 2
    assert "## nasgym/NB201-v0" in (out / "summary.md").read_text()
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pngs == [
        f"{k}_NB201_v0.png"
        for k in ("front_share", "hypervolume", "incumbent", "pareto", "pooled_front")
    ]
    # a second run has nothing left to do and says so
    assert cli.main(_bench(out, "--no-plots")) == 0
    assert "2 of 2 runs complete" in capsys.readouterr().out
    assert len(read_records(out / "results.jsonl")) == len(recs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nasgym/NB201-v1", "--agent", "random"], "Did you mean 'nasgym/NB201-v0'"),
        (["--env", NB201, "--agent", "randon"], "Did you mean 'random'"),
        (["--env", NB201, "--agent", "random", "--env-kwargs", "{dataset: c10}"], "not valid JSON"),
        (["--env", NB201, "--agent", "random", "--env-kwargs", "[1]"], "must be a JSON object"),
        (["--env", NB201, "--agent", "random", "--seeds", "5-2"], "below its start"),
        (
            ["--env", NB201, "--agent", "random", "--seeds", "abc"],
            "--seeds 'abc' is not understood",
        ),
        (["--env", NB201, "--agent", "random", "--steps", "0"], "--steps must be >= 1"),
        (
            ["--env", NB201, "--agent", "random", "--env-kwargs", '{"dataset": "cifar11"}'],
            "unknown NB201 data set 'cifar11'",
        ),
        (
            ["--env", NB201, "--agent", "random", "--env-kwargs", '{"data_dir": "/no/such"}'],
            "'/no/such' (in --env-kwargs) is not an existing directory",
        ),
        (["--env", NB201], "give both --env and --agent"),
        (
            ["--env", NB201, "--agent", "reinforce", "--agent-kwargs", '{"epsilon": 0.1'],
            "--agent-kwargs is not valid JSON",
        ),
        (
            ["--env", NB201, "--agent", "random,reinforce", "--agent-kwargs", '{"rea": {}}'],
            "'rea', which is not in --agent random,reinforce",
        ),
        (
            ["--env", NB201, "--agent", "reinforce", "--agent-kwargs", '{"epsilon": 2}'],
            "cannot build agent 'reinforce' on nasgym/NB201-v0 with --agent-kwargs "
            '{"epsilon": 2}: epsilon must be in [0, 1]',
        ),
        (
            ["--env", NB201, "--agent", "random,reinforce", "--agent-kwargs", '{"epsilon": 0.1}'],
            "cannot build agent 'random'",
        ),
        (
            [
                "--env",
                NB201,
                "--agent",
                "reinforce",
                "--agent-kwargs",
                '{"reinforce": {"lr": 1}, "x": 1}',
            ],
            "mixes agent keys ('reinforce') with other keys ('x')",
        ),
        (["--agent-kwargs", '{"epsilon": 0.1}'], "need --env and --agent"),
    ],
)
def test_bad_arguments_exit_2_before_any_work(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert cli.main(["bench", *args, "--out", str(out), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_output_path_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "results.txt"
    out.write_text("keep me")
    assert cli.main(_bench(out)) == 2
    assert f"--out '{out}' is a file, not a folder" in capsys.readouterr().err
    assert out.read_text() == "keep me"


def test_ray_backend_without_ray_is_a_usage_error(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ray" else real(n, *a)
    )
    out = tmp_path / "never"
    assert cli.main(_bench(out, "--backend", "ray")) == 2
    assert "needs Ray" in capsys.readouterr().err and not out.exists()


def test_an_unreachable_ray_cluster_is_a_usage_error(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip("ray")

    def refuse(address=None, **kwargs):
        raise ConnectionError(f"Failed to connect to Ray cluster at {address}")

    monkeypatch.setattr(ray, "init", refuse)
    out = tmp_path / "run"
    assert cli.main(_bench(out, "--backend", "ray", "--ray-address", "10.9.9.9:6379")) == 2
    err = capsys.readouterr().err
    assert "cannot start or reach Ray (--ray-address '10.9.9.9:6379')" in err
    assert read_records(out / "results.jsonl") == []


def test_default_bench_skips_what_is_not_registered(tmp_path, capsys, monkeypatch):
    from nasgym.bench import jobs

    tiny = (
        BenchEntry("nasgym/NoSuch-v0", ("random",), (0,)),
        BenchEntry(NB201, ("random", "no-such-agent"), (0, 1), {}, 5),
    )
    monkeypatch.setattr(jobs, "DEFAULT_BENCH", tiny)
    out = tmp_path / "default"
    assert cli.main(["bench", "--out", str(out), "--no-progress", "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "skipping nasgym/NoSuch-v0" in printed and "no-such-agent" in printed
    assert len(read_records(out / "results.jsonl")) == 2 * 5 + 2


def test_search_prints_the_incumbent_and_the_front(capsys):
    assert (
        cli.main(["search", "--env", NB201, "--agent", "random", "--seed", "3", "--steps", "30"])
        == 0
    )
    out = capsys.readouterr().out
    assert "30 steps" in out and "best_test_acc_200" in out
    assert "Pareto front found" in out and "~0|" in out  # arch strings of the front


def test_bench_gives_each_agent_its_kwargs(tmp_path, capsys):
    out = tmp_path / "run"
    kwargs = '{"reinforce": {"batch_size": 2, "epsilon": 0.5}}'
    args = _bench(out, "--no-plots", "--agent", "random,reinforce", "--agent-kwargs", kwargs)
    assert cli.main(args) == 0
    assert "| reinforce(batch_size=2, epsilon=0.5) | 2/2 |" in capsys.readouterr().out
    recs = read_records(out / "results.jsonl")
    got = {(r["agent"], json.dumps(r["agent_kwargs"], sort_keys=True)) for r in recs}
    assert got == {("random", "{}"), ("reinforce", '{"batch_size": 2, "epsilon": 0.5}')}


def test_plot_redraws_a_bench_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(_bench(out, "--no-plots")) == 0
    capsys.readouterr()
    assert cli.main(["plot", str(out)]) == 0
    listed = capsys.readouterr().out.split()
    assert len(listed) == 10 and all(Path(p).stat().st_size for p in listed)
    assert any("incumbent_NB201" in p for p in listed)


def test_plot_reads_an_archived_bench_folder(tmp_path, capsys):
    import gzip

    out = tmp_path / "run"
    assert cli.main(_bench(out, "--no-plots")) == 0
    table = (out / "summary.md").read_text()
    plain = out / "results.jsonl"
    (out / "results.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    (out / "summary.md").unlink()
    capsys.readouterr()
    assert cli.main(["plot", str(out)]) == 0
    assert (out / "summary.md").read_text() == table
    # a bench into the archived folder would start over beside the archive: refused, no file made
    assert cli.main(_bench(out, "--no-plots")) == 2
    assert "gunzip" in capsys.readouterr().err
    assert not (out / "results.jsonl").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "no bench folder '{p}'; run `nasgym bench ... --out {p}` first"),
        (lambda d: d, "'{p}' holds no results.jsonl; run `nasgym bench ... --out {p}` first"),
        (lambda d: d / "f.txt", "'{p}' is a file, not a bench folder"),
        (lambda d: d / "gz", "results.jsonl.gz is not a readable gzip archive of results"),
    ],
)
def test_plot_says_what_is_wrong_with_its_folder(tmp_path, capsys, make, message):
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "results.jsonl.gz").write_bytes(b"x")
    path = make(tmp_path)
    assert cli.main(["plot", str(path)]) == 2
    assert message.format(p=path) in capsys.readouterr().err


def test_envs_lists_without_importing_torch_and_describes_arguments():
    import resource
    import subprocess
    import sys

    def cpu() -> float:
        use = resource.getrusage(resource.RUSAGE_CHILDREN)
        return use.ru_utime + use.ru_stime

    code = "import sys, nasgym.cli as c; c.main(['envs']); print('torch' in sys.modules)"
    before = cpu()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False" and NB201 in out.stdout
    # CPU seconds, not wall: a loaded CI machine must not fail it (measured: ~0.4 s)
    assert cpu() - before < 2.0
    code = "import nasgym.cli as c; c.main(['envs', '--describe', 'nasgym/NB201-v0'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "time_budget    = 12000.0" in out.stdout and "(simulated seconds" in out.stdout


def test_a_preset_id_is_described_with_its_own_values(capsys):
    # VALP-Paper-v0 presets VALPEnv: its listing and --describe give the preset's values, not
    # the class defaults (digits, 100 initial batches) a user would otherwise be told
    assert cli.main(["envs"]) == 0
    listing = capsys.readouterr().out
    paper = next(ln for ln in listing.splitlines() if ln.startswith("nasgym/VALP-Paper-v0 "))
    assert "Fashion-MNIST" in paper and "2,500 / 500" in paper
    assert cli.main(["envs", "--describe", "nasgym/VALP-Paper-v0"]) == 0
    out = capsys.readouterr().out
    assert "dataset         = 'fashion-mnist'  str | Dataset  (this id's value)" in out
    assert "initial_batches = 2500  int  (this id's value)" in out
    assert "reward_clip     = 5.0  float\n" in out  # not preset: the class default, unmarked
    assert cli.main(["envs", "--describe", "nasgym/VALP-v0"]) == 0
    assert "initial_batches = 100  int\n" in capsys.readouterr().out


def test_listings_give_whole_summaries_and_stop_quietly_on_a_closed_pipe():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "nasgym.cli", "agents"], capture_output=True, text=True, check=True
    ).stdout
    # a docstring summary wrapped over lines is joined, not cut mid-sentence
    line = next(ln for ln in out.splitlines() if ln.startswith("ppo-valp "))
    assert line.endswith("(trained on MNIST).")
    # a reader that went away (``| head``): its end of the pipe is closed before any write
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nasgym.cli", "envs", "--describe", NB201],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write)
    assert done.returncode == 1 and done.stderr == ""


def test_unknown_env_ids_and_env_kwargs_get_a_did_you_mean(tmp_path, capsys):
    assert cli.main(["envs", "--describe", "nasgym/NB202-v0"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'nasgym/NB201-v0'" in err and "CartPole" not in err
    args = ["--env-kwargs", '{"datset": "cifar100"}', "--no-plots"]
    assert cli.main(_bench(tmp_path / "x", *args)) == 2
    err = capsys.readouterr().err
    assert "unknown argument 'datset' (did you mean 'dataset'?)" in err
    assert "nasgym/NB201-v0 accepts: dataset, reward" in err


def test_search_prints_rounded_numbers(capsys):
    assert cli.main(["search", "--env", NB201, "--agent", "rea", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "test_error: 6.55," in out and "99999" not in out and "00000000" not in out


def test_default_bench_uses_the_cpus_this_process_may_run_on(tmp_path, monkeypatch):
    import os

    import nasgym.bench
    from nasgym.bench import jobs

    seen = {}

    def fake_run_bench(entries, out, **kw):
        seen.update(kw)
        return nasgym.bench.BenchReport(Path(out))

    monkeypatch.setattr(jobs, "DEFAULT_BENCH", (BenchEntry(NB201, ("random",), (0,), {}, 2),))
    monkeypatch.setattr(nasgym.bench, "run_bench", fake_run_bench)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cli.main(["bench", "--out", str(tmp_path / "d"), "--no-progress"]) == 0
    assert seen["workers"] == 1  # one CPU allowed of a 64-CPU host


def test_search_leaves_the_over_budget_step_out():
    from nasgym.bench.search import best_of

    def step(i, reward, in_budget=True):
        objectives = {"test_error": 10.0 - i, "params": 1.0} if in_budget else {}
        info = {"in_budget": in_budget, "best_reward": 0.5, "arch": f"cell{i}"}
        return {"type": "step", "step": i, "reward": reward, "objectives": objectives, "info": info}

    # the last evaluation would overrun the budget: it has the highest reward but was never run
    res = best_of([step(0, 0.4), step(1, 0.5), step(2, 0.9, in_budget=False)])
    assert res["steps"] == 2 and res["over_budget"] == 1
    assert res["best_reward"]["step"] == 1
    assert [r["step"] for r in res["front"]] == [1]
    assert res["incumbent"] == {"best_reward": 0.5}
