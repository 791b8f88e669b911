"""Mid-run checkpoints: a cut run resumes from its last checkpoint, with the records an
uninterrupted run stores; a checkpoint this user did not sign is never unpickled."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from processes import kill_when

from nasgym.bench import BenchEntry, read_records, run_bench
from nasgym.bench.checkpoint import Checkpoints
from nasgym.bench.jobs import Job
from nasgym.bench.runner import run_job

ROOT = Path(__file__).resolve().parents[2]
#: the paper preset on digits at tiny budgets: real models, optimizers-free weights, generators
VALP_KWARGS = {
    "dataset": "digits",
    "initial_batches": 5,
    "step_batches": 3,
    "eval_samples": 48,
    "diagnostics": {"samples": 48},
}
STEPS = 6


@pytest.fixture(autouse=True)
def own_key(tmp_path, monkeypatch):
    """Each test signs with a key of its own (not the user's)."""
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "cache"))


def _job(agent: str) -> Job:
    entry = BenchEntry("nasgym/VALP-Paper-v0", (agent,), (3,), VALP_KWARGS, STEPS)
    (job,) = entry.jobs(())
    return job


def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("wall_s", "checkpoint_step")} for r in records]


def _cut(job: Job, ck: Checkpoints, after: int) -> list[dict]:
    """The first ``after`` step records of the run, then the run is dropped mid-step (as a
    kill would leave it: the checkpoint written after step ``after`` - 1 is the last one)."""
    gen = run_job(job, checkpoints=ck)
    got = [next(gen) for _ in range(after)]
    gen.close()
    return got


@pytest.mark.parametrize("agent", ["random", "rules", "metamodel", "bandit"])
def test_a_run_resumed_from_its_checkpoint_stores_what_an_uncut_run_stores(tmp_path, agent):
    job = _job(agent)
    whole = list(run_job(job))
    ck = Checkpoints(str(tmp_path / "ck"), every=1e-9)  # a checkpoint after every step
    stored = _cut(job, ck, after=4)
    assert _strip(stored) == _strip(whole[:4])
    have = {r["step"] for r in stored}
    actions = {r["step"]: r["action"] for r in stored}
    rest = list(run_job(job, frozenset(have), actions, stored[0]["platform"], checkpoints=ck))
    done = rest[-1]
    assert done["type"] == "done" and done["checkpoint_step"] == 3  # step 4 was replayed
    assert _strip(stored + rest) == _strip(whole)


def test_a_checkpoint_signed_under_another_key_or_altered_is_not_loaded(tmp_path, monkeypatch):
    job = _job("random")
    ck = Checkpoints(str(tmp_path / "ck"), every=1e-9)
    stored = _cut(job, ck, after=3)
    have = frozenset(r["step"] for r in stored)
    path = ck.path(job.key)
    # another user's (or machine's) key: refused before anything is unpickled
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "other-cache"))
    with pytest.warns(RuntimeWarning, match="signature does not verify"):
        assert ck.load(job.key, have, {}) is None
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "cache"))
    assert ck.load(job.key, have, {})[0] == 2
    # one byte of the pickled state altered
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="signature does not verify"):
        assert ck.load(job.key, have, {}) is None
    # the run then replays from its seed and still stores the uncut run's records
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rest = list(run_job(job, have, None, stored[0]["platform"], checkpoints=ck))
    assert "checkpoint_step" not in rest[-1]
    assert _strip(stored + rest) == _strip(list(run_job(job)))


def test_a_checkpoint_is_not_used_past_a_lost_step_or_from_other_code(tmp_path):
    job = _job("random")
    ck = Checkpoints(str(tmp_path / "ck"), every=1e-9)
    _cut(job, ck, after=4)  # checkpoint at step 3
    meta = {"code": "other", "platform": "p"}
    assert ck.load(job.key, frozenset({1, 2, 3}), meta) is None  # written by other code
    header = ck.header(job.key)
    assert header["step"] == 3 and header["run"] == list(job.key)
    same = {k: header[k] for k in ("code", "platform")}
    assert ck.load(job.key, frozenset({1, 2, 3}), same)[0] == 3
    assert ck.load(job.key, frozenset({1, 3}), same) is None  # step 2 was lost: replay it


def test_an_unpicklable_state_warns_and_the_run_goes_on(tmp_path, monkeypatch):
    ck = Checkpoints(str(tmp_path / "ck"), every=1e-9)
    key = _job("random").key
    with pytest.warns(RuntimeWarning, match="cannot be pickled"):
        assert not ck.save(key, 1, {}, lambda: None)
    assert not ck.path(key).exists()
    # signed, but of a class this code no longer has (an edited, uncommitted tree): replayed
    assert ck.save(key, 1, {}, _Gone())
    monkeypatch.delattr(sys.modules[__name__], "_Gone")
    with pytest.warns(RuntimeWarning, match="cannot be unpickled"):
        assert ck.load(key, frozenset({1}), {}) is None


class _Gone:
    """A class that unpickling will not find (the test takes it out of its module)."""


def test_bad_checkpoint_every_is_refused_and_no_key_means_no_checkpoints(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="checkpoint_every"):
        Checkpoints.for_folder(tmp_path, -1)
    assert Checkpoints.for_folder(tmp_path, 0) is None
    assert Checkpoints.for_folder(tmp_path, 60).folder == str(tmp_path / "checkpoints")
    # the key's folder cannot be made (a file stands in its way): the bench runs without them
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "file" / "cache"))
    with pytest.warns(
        RuntimeWarning, match="no checkpoints: cannot (read|create) the checkpoint key"
    ):
        assert Checkpoints.for_folder(tmp_path, 60) is None


def _cmd(out: Path) -> list[str]:
    return [
        sys.executable, "-m", "nasgym.cli", "bench", "--import", "nasgym_toys",
        "--env", "nasgym-test/ToyMO-v0", "--env-kwargs", json.dumps({"horizon": 60}),
        "--agent", "random,toy-cycle", "--seeds", "1", "--steps", "60", "--out", str(out),
        "--no-plots", "--no-progress", "--checkpoint-every", "0.2s",
    ]  # fmt: skip


def test_kill_9_then_rerun_resumes_from_the_checkpoint(tmp_path, toys, cli_env):
    out = tmp_path / "out"
    results = out / "results.jsonl"
    env = {**cli_env, "NASGYM_TOY_SLEEP": "0.05", "NASGYM_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(_cmd(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    kill_when(
        proc,
        lambda: bool(list((out / "checkpoints").glob("*.ckpt"))) and _steps(results) >= 30,
        120,
        "checkpoint and 30 steps",
    )
    before = read_records(results)
    assert not any(r["type"] == "done" for r in before if r["agent"] == "toy-cycle")
    rerun = subprocess.run(
        _cmd(out), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    after = read_records(results)
    resumed = [r for r in after if r["type"] == "done" and "checkpoint_step" in r]
    assert resumed and all(r["checkpoint_step"] >= 1 for r in resumed)
    assert not list((out / "checkpoints").glob("*"))  # removed once the runs are stored whole
    entry = BenchEntry("nasgym-test/ToyMO-v0", ("random", "toy-cycle"), (0,), {"horizon": 60}, 60)
    run_bench(
        [entry], tmp_path / "ref", progress=False, plots=False, quiet=True,
        imports=("nasgym_toys",), checkpoint_every=0,
    )  # fmt: skip
    assert sorted(map(json.dumps, _strip(after))) == sorted(
        map(json.dumps, _strip(read_records(tmp_path / "ref" / "results.jsonl")))
    )


def _steps(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"type":"step"')
    except FileNotFoundError:
        return 0
