"""The progress bar advances by expected cost per env, never past its total, without warnings."""

from __future__ import annotations

import warnings

import pytest

from nasgym.bench.bench import _Bar
from nasgym.bench.jobs import Job
from nasgym.bench.records import done_record, step_record


def _done(job: Job, steps: int, wall: float) -> dict:
    return done_record(job.key, steps, job.max_steps, False, {}, wall)


def _step(job: Job, t: int) -> dict:
    return step_record(job.key, t, 0, 0.0, False, False, {"objectives": {}, "cost": 1.0})


def test_runs_weigh_their_envs_measured_cost_and_the_bar_ends_exactly_full():
    slow = [Job("slow-env", "random", s, {}, 2) for s in range(3)]
    fast = [Job("fast-env", "random", s, {}, None) for s in range(3)]
    # one finished run of each env is stored: 20 s for the slow env, 0.01 s for the fast one
    stored = [_done(Job("slow-env", "random", 9, {}, 2), 2, 20.0)]
    stored += [_done(Job("fast-env", "random", 9, {}, None), 5, 0.01)]
    tasks = [(j, frozenset(), {}, None) for j in slow + fast]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. tqdm's "clamping frac" warning
        bar = _Bar(slow + fast, tasks, enabled=False, records=stored)
        assert bar.bar.total == pytest.approx(3 * 20.0 + 3 * 0.01)
        for job in fast:  # the fast runs are a sliver of the work
            bar.finish_run(_done(job, 5, 0.01))
        assert bar.bar.n / bar.bar.total < 0.01
        bar.step(_step(slow[0], 1))  # half of a slow run
        assert bar.bar.n == pytest.approx(10.0 + 0.03)
        bar.step(_step(slow[0], 2))  # all steps emitted, done marker not yet: not past 99%
        assert bar.bar.n < 20.0 + 0.03
        for job in slow:
            bar.finish_run(_done(job, 2, 30.0))  # slower than expected: the total grows
        assert bar.bar.n == bar.bar.total
        assert bar._desc() == "6/6 runs"
        bar.close()


def test_without_any_measurement_every_run_weighs_alike():
    jobs = [Job("a", "random", s, {}, 4) for s in range(2)]
    bar = _Bar(jobs, [(j, frozenset({1, 2}), {}, None) for j in jobs], enabled=False)
    assert bar.bar.total == 2.0 and bar.bar.n == pytest.approx(1.0)  # half of each run stored
    bar.close()


def test_each_finished_job_is_released_so_memory_stays_bounded(tmp_path, toys):
    """The serial backend frees every job's env and agent (cyclic garbage holding tensors)
    before the next one starts; benchmarks/bench_memory.py measures the effect on RSS."""
    import gc
    import weakref

    from nasgym.bench import backends

    made: list[weakref.ref] = []
    original = toys.ToyMOEnv.reset

    def tracking_reset(self, *, seed=None, options=None):
        made.append(weakref.ref(self))
        self.cycle = self  # a reference cycle: only the cyclic collector frees it
        return original(self, seed=seed, options=options)

    jobs = [Job("nasgym-test/ToyMO-v0", "random", s, {"horizon": 3}, 3) for s in range(3)]
    alive_at_start = []

    def sink(rec: dict) -> None:
        if rec["type"] == "step" and rec["step"] == 1:
            alive_at_start.append(sum(r() is not None for r in made))

    gc.disable()  # as when large tensors, not object counts, fill the memory
    try:
        toys.ToyMOEnv.reset = tracking_reset
        backends.run_serial([(j, frozenset(), {}, None) for j in jobs], sink, lambda j, t: None)
    finally:
        toys.ToyMOEnv.reset = original
        gc.enable()
    assert alive_at_start == [1, 1, 1]  # the previous job's env was gone when the next began
    assert all(r() is None for r in made)
