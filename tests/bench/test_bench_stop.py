"""Stopping a bench early without losing work: ``--stop-after`` and ``touch OUT/STOP`` let the
runs under way finish, start no more, and a rerun of the same command completes the bench."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasgym.bench import BenchEntry, read_records, run_bench
from nasgym.bench.backends import StopRule, parse_duration
from nasgym.bench.jobs import BenchError
from nasgym.bench.records import record_key

KWARGS = {"horizon": 20}
ENTRY = BenchEntry("nasgym-test/ToyMO-v0", ("random", "toy-cycle"), (0, 1, 2), KWARGS, 20)


def _bench(out: Path, **kwargs):
    return run_bench(
        [ENTRY], out, progress=False, plots=False, quiet=True, imports=("nasgym_toys",), **kwargs
    )


def _canon(records: list[dict]) -> list[str]:
    return sorted(json.dumps({k: v for k, v in r.items() if k != "wall_s"}) for r in records)


def _runs(records: list[dict]) -> tuple[set, set]:
    """The keys of the runs with steps stored, and of those with their done marker."""
    stepped = {record_key(r) for r in records if r["type"] == "step"}
    done = {record_key(r) for r in records if r["type"] == "done"}
    return stepped, done


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("45s", 45), ("45", 2700), ("0.5h", 1800)],
)
def test_durations_read_as_a_user_writes_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10x", "m", "1h 30m", "-5m"])
def test_a_bad_duration_is_refused_with_examples(text):
    with pytest.raises(ValueError, match="not a duration; give e.g. 90m"):
        parse_duration(text)


def test_stop_after_finishes_the_run_under_way_and_a_rerun_completes_the_bench(
    tmp_path, toys, monkeypatch
):
    monkeypatch.setenv("NASGYM_TOY_SLEEP", "0.05")  # a run takes >= 1 s; the limit is 0.5 s
    out = tmp_path / "stopped"
    report = _bench(out, stop_after=0.5)
    first = read_records(out / "results.jsonl")
    stepped, done = _runs(first)
    assert report.completed == 1 and report.not_started == 5
    assert stepped == done and len(done) == 1  # the run under way ended; no partial run
    assert len(first) == 21

    monkeypatch.setenv("NASGYM_TOY_SLEEP", "0")
    again = _bench(out)
    assert (again.skipped, again.completed, again.not_started) == (1, 5, 0)
    reference = tmp_path / "reference"
    _bench(reference)
    assert _canon(read_records(out / "results.jsonl")) == _canon(
        read_records(reference / "results.jsonl")
    )


def test_a_bad_stop_after_is_refused_before_the_folder_is_touched(tmp_path, toys):
    with pytest.raises(BenchError, match="stop_after must be a positive number of seconds"):
        _bench(tmp_path / "never", stop_after=0)
    assert not (tmp_path / "never").exists()


def test_a_stale_stop_file_is_removed_when_a_bench_starts(tmp_path, toys):
    out = tmp_path / "stale"
    out.mkdir()
    (out / "STOP").touch()
    report = _bench(out)
    assert (report.completed, report.not_started) == (6, 0)
    assert not (out / "STOP").exists()


def test_a_stop_rule_says_why_and_removes_its_flag(tmp_path):
    rule = StopRule.for_folder(tmp_path, 1800.0)
    assert not rule.hit()
    assert rule.finish(0) == ""
    Path(rule.flag).touch()
    assert rule.hit()
    said = rule.finish(4, "model")
    assert "STOP appeared" in said and "4 model(s) not started" in said
    assert not Path(rule.flag).exists()
    assert "30 min passed" in StopRule(time.time() - 1, None, 1800.0).finish(2)


def test_touching_stop_drains_a_pool_bench_and_exits_3(tmp_path, toys, cli_env):
    out = tmp_path / "drained"
    cmd = [
        sys.executable, "-m", "nasgym.cli", "bench", "--import", "nasgym_toys",
        "--env", "nasgym-test/ToyMO-v0", "--env-kwargs", json.dumps(KWARGS),
        "--agent", "random,toy-cycle", "--seeds", "0-2", "--steps", "20",
        "--out", str(out), "--workers", "2", "--no-plots", "--no-progress",
    ]  # fmt: skip
    env = dict(cli_env, NASGYM_TOY_SLEEP="0.05")  # a run takes >= 1 s
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (results.exists() and results.read_bytes().count(b"\n")):
        time.sleep(0.05)
    (out / "STOP").touch()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr
    assert "STOP appeared" in stdout and "rerun the same command to go on" in stdout
    assert not (out / "STOP").exists()
    stepped, done = _runs(read_records(results))
    assert stepped == done and 1 <= len(done) < 6  # the runs under way ended, no others began

    rerun = subprocess.run(cmd, env=dict(cli_env), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    stepped, done = _runs(read_records(results))
    assert len(done) == 6 and len(read_records(results)) == 6 * 21


def test_stop_after_is_checked_by_the_command_line(tmp_path, toys, cli_env):
    cmd = [
        sys.executable, "-m", "nasgym.cli", "bench", "--import", "nasgym_toys",
        "--env", "nasgym-test/ToyMO-v0", "--agent", "random", "--seeds", "1",
        "--out", str(tmp_path / "never"), "--stop-after", "soon",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--stop-after: 'soon' is not a duration" in done.stderr
    assert not (tmp_path / "never").exists()
