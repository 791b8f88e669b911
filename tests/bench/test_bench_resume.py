"""`nasgym bench` killed (SIGKILL) or interrupted (SIGINT) mid-run, then rerun: no record lost,
none duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasgym.bench import BenchEntry, read_records, run_bench

ROOT = Path(__file__).resolve().parents[2]
KWARGS = {"horizon": 25}
#: seconds per step of the killed bench: 6 runs of 25 steps take >= 3.75 s on 2 workers, so
#: after the 40th record there are seconds left to kill it mid-bench even on a loaded machine
SLOW = "0.05"


def _default_sigint() -> None:
    """Ctrl-C as in a terminal, even when pytest itself runs in the background of a
    non-interactive shell, whose children inherit an ignored SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cmd(out: Path, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "nasgym.cli", "bench", "--import", "nasgym_toys",
        "--env", "nasgym-test/ToyMO-v0", "--env-kwargs", json.dumps(KWARGS),
        "--agent", "random,toy-cycle", "--seeds", "0-2", "--steps", "25",
        "--out", str(out), "--workers", str(workers), "--no-plots", "--no-progress",
    ]  # fmt: skip


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _canon(records: list[dict]) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in r.items() if k != "wall_s"}, sort_keys=True) for r in records
    )


@pytest.mark.parametrize(
    ("sig", "workers"), [(signal.SIGKILL, 1), (signal.SIGKILL, 2), (signal.SIGINT, 2)]
)
def test_interrupt_then_rerun_loses_and_duplicates_nothing(tmp_path, toys, cli_env, sig, workers):
    out = tmp_path / "out"
    results = out / "results.jsonl"
    slow_env = {**cli_env, "NASGYM_TOY_SLEEP": SLOW}
    proc = subprocess.Popen(
        _cmd(out, workers),
        cwd=ROOT,
        env=slow_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 180
        # more than one run's worth (26 records), well short of 156, with a finished run
        while _lines(results) < 40 or b'"type":"done"' not in results.read_bytes():
            assert proc.poll() is None, "bench ended before it could be killed"
            assert time.monotonic() < deadline, "bench did not write 40 records in 180 s"
            time.sleep(0.02)
        kids = _children(proc.pid)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:  # Ctrl-C: a clean stop that says how to resume
        assert proc.returncode == 130 and "Rerun the same command to resume" in err.decode()
    before = read_records(results)
    assert 40 <= len(before) < 6 * 26  # killed mid-bench
    # worker processes do not outlive a killed bench
    deadline = time.monotonic() + 30
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(k) for k in kids)
    # a disk error garbles a middle line: step 5 of a finished run
    done = next(r for r in before if r["type"] == "done")
    lines = results.read_bytes().splitlines(keepends=True)
    hit = next(
        i
        for i, ln in enumerate(lines)
        if json.loads(ln).get("step") == 5
        and json.loads(ln)["seed"] == done["seed"]
        and json.loads(ln)["agent"] == done["agent"]
    )
    lines[hit] = lines[hit][:20] + b"\x00\x17" + lines[hit][22:]
    # a write cut short by the kill leaves a torn line: it is ignored with a warning, then cut off
    results.write_bytes(b"".join(lines) + b'{"type":"step","env":"nasgym-te')
    rerun = subprocess.run(
        _cmd(out, workers), cwd=ROOT, env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "torn last line" in rerun.stderr
    # the user is told which run lost which step, and the step is replayed, not lost
    assert f"{done['agent']} / seed {done['seed']}: step(s) 5 missing; it is replayed" in (
        rerun.stderr
    )
    assert f"unreadable line(s) ({hit + 1})" in rerun.stderr
    assert "resuming" in rerun.stdout
    after = read_records(results)
    # every record stored before the kill is still there, unchanged
    assert set(_canon(before)) <= set(_canon(after))

    entry = BenchEntry("nasgym-test/ToyMO-v0", ("random", "toy-cycle"), (0, 1, 2), KWARGS, 25)
    run_bench(
        [entry], tmp_path / "ref", progress=False, plots=False, quiet=True, imports=("nasgym_toys",)
    )
    reference = read_records(tmp_path / "ref" / "results.jsonl")
    assert len(reference) == 6 * 26
    assert _canon(after) == _canon(reference)
    assert len(results.read_bytes().splitlines()) == len(reference)  # no duplicate, no torn line


def test_ctrl_c_on_the_bench_alone_stops_its_pool_workers_at_once(tmp_path, toys, cli_env):
    """SIGINT to the bench process only (not its process group, as `kill -INT PID` sends): the
    workers are stopped, not left to finish runs of minutes."""
    out = tmp_path / "out"
    results = out / "results.jsonl"
    proc = subprocess.Popen(
        _cmd(out, 2),
        cwd=ROOT,
        env={**cli_env, "NASGYM_TOY_SLEEP": "1.0"},  # a run takes >= 25 s
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 180
        while _lines(results) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        kids = _children(proc.pid)
        os.kill(proc.pid, signal.SIGINT)
        start = time.monotonic()
        proc.communicate(timeout=120)
        assert proc.returncode == 130
        assert time.monotonic() - start < 15  # not after the runs under way end (>= 20 s)
        deadline = time.monotonic() + 10
        while any(_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(k) for k in kids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
