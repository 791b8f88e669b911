"""The bench loop: records, paired seeds, step limits, resume, failures, validation, backends."""

from __future__ import annotations

import importlib.util
import json

import pytest

from nasgym.bench import BenchEntry, BenchError, read_records, run_bench

TOY = "nasgym-test/ToyMO-v0"
IMPORTS = ("nasgym_toys",)


def _bench(
    out,
    agents=("random", "toy-cycle"),
    seeds=(0, 1),
    steps=12,
    kwargs=None,
    agent_kwargs=None,
    **kw,
):
    entry = BenchEntry(
        TOY, tuple(agents), tuple(seeds), dict(kwargs or {"horizon": 50}), steps, agent_kwargs or {}
    )
    opts = {"progress": False, "plots": False, "quiet": True, "imports": IMPORTS, **kw}
    return run_bench([entry], out, **opts)


def _canon(records: list[dict]) -> list[str]:
    """Records without the run time, in a canonical order (for equality across runs)."""
    out = []
    for r in records:
        r = dict(r)
        r.pop("wall_s", None)
        out.append(json.dumps(r, sort_keys=True))
    return sorted(out)


def _records(out) -> list[dict]:
    return read_records(out / "results.jsonl")


def test_every_step_is_recorded_with_its_info(tmp_path, toys):
    report = _bench(tmp_path, agents=("toy-cycle",), seeds=(4,), steps=6)
    recs = _records(tmp_path)
    assert report.completed == 1 and not report.failed
    steps = [r for r in recs if r["type"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    first = steps[0]
    assert first["env"] == TOY and first["env_kwargs"] == {"horizon": 50}
    assert first["agent"] == "toy-cycle" and first["seed"] == 4
    assert isinstance(first["action"], int)
    assert set(first["objectives"]) == {"f1", "f2"}
    assert first["reward"] == pytest.approx(
        -(first["objectives"]["f1"] + first["objectives"]["f2"])
    )
    assert first["cost"] == 1.0 and first["accepted"] == (first["action"] % 2 == 0)
    assert first["info"]["operator"] in toys.OPERATORS and "score" in first["info"]
    assert "action_mask" not in first["info"] and "objectives" not in first["info"]
    assert first["agent_kwargs"] == {}
    done = recs[-1]
    assert done["type"] == "done" and done["steps"] == 6 and not done["episode_end"]
    assert done["objective_spec"] == {"f1": [0.0, 1.0], "f2": [0.0, 1.0]}


def test_dicts_of_scalars_in_info_are_kept_one_level_deep(tmp_path, toys):
    _bench(tmp_path, agents=("toy-cycle",), seeds=(2,), steps=8)
    steps = [r for r in _records(tmp_path) if r["type"] == "step"]
    accepted = {"f1": 1.0, "f2": 1.0}  # the toy's start, before any accepted step
    for r in steps:
        if r["accepted"]:
            accepted = r["objectives"]
        info = r["info"]
        # the objectives of the accepted point, as "key.sub" entries
        assert info["current_objectives.f1"] == pytest.approx(accepted["f1"])
        assert info["current_objectives.f2"] == pytest.approx(accepted["f2"])
        assert isinstance(info["details.x"], float)
        # no arrays, no deeper dicts, no dicts themselves
        assert not {"details.xs", "details.deep", "details.deep.x", "details"} & set(info)
        assert "current_objectives" not in info
    assert any(not r["accepted"] for r in steps) and any(r["accepted"] for r in steps)


def test_runs_stop_at_the_episode_end(tmp_path, toys):
    _bench(tmp_path, agents=("random",), seeds=(0,), steps=20, kwargs={"horizon": 5})
    done = [r for r in _records(tmp_path) if r["type"] == "done"]
    assert done[0]["steps"] == 5 and done[0]["episode_end"]


def test_seeds_are_paired_across_agents(tmp_path, toys):
    _bench(tmp_path, agents=("toy-cycle", "toy-cycle-copy"), seeds=(0, 1), steps=5)
    steps = [r for r in _records(tmp_path) if r["type"] == "step"]

    def traj(agent, seed):
        return [
            (r["action"], r["objectives"])
            for r in steps
            if (r["agent"], r["seed"]) == (agent, seed)
        ]

    # same seed: the same env start and agent seed, so the same trajectory for the same policy
    assert traj("toy-cycle", 0) == traj("toy-cycle-copy", 0)
    assert traj("toy-cycle", 1) == traj("toy-cycle-copy", 1)
    assert traj("toy-cycle", 0) != traj("toy-cycle", 1)


def test_rerun_skips_complete_runs_and_completes_partial_ones(tmp_path, toys):
    ref = _bench(tmp_path / "ref")
    assert ref.completed == 4
    full = _records(tmp_path / "ref")
    # keep the first complete run and 5 steps of the second one: an interrupted bench
    first, second = (
        sorted({(r["agent"], r["seed"]) for r in full}, key=lambda k: (k[1], k[0]))[i]
        for i in (0, 1)
    )
    keep = [
        r
        for r in full
        if (r["agent"], r["seed"]) == first
        or ((r["agent"], r["seed"]) == second and r["type"] == "step" and r["step"] <= 5)
    ]
    part = tmp_path / "part"
    part.mkdir()
    (part / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
    report = _bench(part)
    assert report.skipped == 1 and report.completed == 3
    assert _canon(_records(part)) == _canon(full)
    # a third run changes nothing
    again = _bench(part)
    assert again.skipped == 4 and again.completed == 0
    assert _canon(_records(part)) == _canon(full)


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path, toys):
    entries = [
        BenchEntry(TOY, ("random",), (0,), {"horizon": 50, "fail_at": 3}, 6),
        BenchEntry(TOY, ("random",), (0,), {"horizon": 50}, 6),
    ]
    report = run_bench(entries, tmp_path, progress=False, plots=False, quiet=True, imports=IMPORTS)
    assert report.completed == 1 and len(report.failed) == 1
    assert "toy failure at step 3" in report.failed[0][1]
    recs = _records(tmp_path)
    failed = [r for r in recs if r["env_kwargs"].get("fail_at")]
    assert [r["step"] for r in failed] == [1, 2] and all(r["type"] == "step" for r in failed)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            BenchEntry("nasgym-test/ToyMO-v1", ("random",), (0,)),
            "Did you mean 'nasgym-test/ToyMO-v0'",
        ),
        (BenchEntry(TOY, ("randm",), (0,)), "unknown agent 'randm'. Did you mean 'random'"),
        (
            BenchEntry(TOY, ("random",), (0,), {"data_dir": "/no/such/dir"}),
            "not an existing directory",
        ),
        (BenchEntry(TOY, ("random",), (0,), {"horizon": 0}), "horizon must be >= 1"),
        (BenchEntry(TOY, ("random",), (0,), {"colour": 1}), "cannot make"),
    ],
)
def test_bad_arguments_fail_before_anything_is_written(tmp_path, toys, entry, message):
    out = tmp_path / "out"
    with pytest.raises(BenchError, match=message):
        run_bench([entry], out, progress=False, plots=False, quiet=True, imports=IMPORTS)
    assert not out.exists()


#: agent kwargs travel to worker processes and Ray tasks
STRIDE5 = {"toy-cycle": {"stride": 5}}


def _strides(records: list[dict]) -> set[int]:
    """The steps between consecutive actions of the toy-cycle runs."""
    acts: dict[int, list[int]] = {}
    for r in records:
        if r["type"] == "step" and r["agent"] == "toy-cycle":
            acts.setdefault(r["seed"], []).append(r["action"])
    return {(b - a) % 8 for lst in acts.values() for a, b in zip(lst, lst[1:], strict=False)}


def test_process_pool_gives_the_serial_records(tmp_path, toys):
    serial = _bench(tmp_path / "serial", seeds=(0, 1), steps=8, agent_kwargs=STRIDE5)
    pool = _bench(tmp_path / "pool", seeds=(0, 1), steps=8, workers=2, agent_kwargs=STRIDE5)
    assert serial.completed == pool.completed == 4
    assert _canon(_records(tmp_path / "pool")) == _canon(_records(tmp_path / "serial"))
    assert _strides(_records(tmp_path / "pool")) == {5}


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_backend_gives_the_local_records(tmp_path, toys):
    local = _bench(tmp_path / "local", seeds=(0, 1, 2), steps=10, agent_kwargs=STRIDE5)
    ray_report = _bench(
        tmp_path / "ray", seeds=(0, 1, 2), steps=10, backend="ray", workers=2, agent_kwargs=STRIDE5
    )
    assert local.completed == ray_report.completed == 6 and not ray_report.failed
    assert _canon(_records(tmp_path / "ray")) == _canon(_records(tmp_path / "local"))
    assert _strides(_records(tmp_path / "ray")) == {5}
    # a Ray task checks the stop rule where it runs: past the limit, none starts
    late = _bench(tmp_path / "late", seeds=(0, 1), steps=4, backend="ray", stop_after=1e-9)
    assert (late.completed, late.not_started, late.failed) == (0, 4, [])


def test_progress_bar_moves_during_long_runs_when_some_runs_have_no_step_limit(capsys):
    from nasgym.bench.bench import _Bar
    from nasgym.bench.jobs import Job
    from nasgym.bench.records import done_record, step_record

    limited, open_ended = Job(TOY, "random", 0, {}, 4), Job(TOY, "random", 1, {}, None)
    # the limited run has 1 step stored already (a resumed bench)
    tasks = [(limited, frozenset({1}), {1: 0}, None), (open_ended, frozenset(), {}, None)]
    bar = _Bar([limited, open_ended], tasks, enabled=True)
    assert bar.bar.total == 2 and bar.bar.n == pytest.approx(0.25)
    info = {"objectives": {"f1": 0.5, "f2": 0.5}, "cost": 1.0, "accepted": True}
    bar.step(step_record(limited.key, 2, 0, 0.0, False, False, info))
    assert bar.bar.n == pytest.approx(0.5)  # a quarter run per step of a 4-step run
    bar.step(step_record(open_ended.key, 1, 0, 0.0, False, False, info))
    assert bar.bar.n == pytest.approx(0.5)  # no limit: no fraction known until it ends
    bar.finish_run(done_record(limited.key, 3, 4, True, {}, 0.1))  # ended a step early
    # now each run of the env weighs the measured 0.1 s: one of two runs is done
    assert bar.bar.total == pytest.approx(0.2) and bar.bar.n == pytest.approx(0.1)
    bar.finish_run(done_record(open_ended.key, 7, None, True, {}, 0.1))
    assert bar.bar.n == bar.bar.total
    bar.close()
    err = capsys.readouterr().err
    assert "2/2 runs: 100%" in err and "clamping" not in err


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_in_a_finalizer_still_stops_the_bench() -> None:
    """Python prints and drops a KeyboardInterrupt raised while a finalizer runs; the bench
    still stops at the next record (it does not run on and report success), and Python's own
    SIGINT handler is back afterwards."""
    import os
    import signal

    from nasgym.bench.backends import run_tasks

    class SendsCtrlC:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # the interrupt lands here, inside the finalizer
                pass

    def runner(job, have, stored, platform):
        yield {"n": 1}
        SendsCtrlC()  # dropped at once
        yield {"n": 2}
        yield {"n": 3}

    got: list[dict] = []
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            run_tasks(
                [(None, frozenset(), {}, None)], got.append, lambda job, tb: None, runner=runner
            )
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    assert got == [{"n": 1}]
