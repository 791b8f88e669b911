"""A folder resumed on another platform (torch, CPU kernels): a partly stored run is refused,
not continued from another trajectory, and ``--restart-partial`` runs it anew, keeping its old
steps aside."""

from __future__ import annotations

import json

from nasgym._provenance import compute_platform
from nasgym.bench import BenchEntry, read_records, run_bench

KWARGS = {"horizon": 25}
ELSEWHERE = "torch 0.0, AVX2, another CPU"


def _canon(records: list[dict]) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in r.items() if k != "wall_s"}, sort_keys=True) for r in records
    )


def _bench(out, **kwargs):
    entry = BenchEntry("nasgym-test/ToyMO-v0", ("random", "toy-cycle"), (0, 1), KWARGS, 25)
    return run_bench(
        [entry], out, progress=False, plots=False, quiet=True, imports=("nasgym_toys",), **kwargs
    )


def test_a_run_stored_elsewhere_is_refused_then_restarted_with_its_steps_kept(tmp_path, toys):
    _bench(tmp_path / "ref")
    reference = read_records(tmp_path / "ref" / "results.jsonl")
    steps = [r for r in reference if r["type"] == "step"]
    assert steps and all(r["platform"] == compute_platform() for r in steps)
    # the first 10 steps of (random, seed 1), as a machine with other kernels stored them
    cut = [
        {**r, "platform": ELSEWHERE}
        for r in steps
        if r["agent"] == "random" and r["seed"] == 1 and r["step"] <= 10
    ]
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cut))

    report = _bench(out)
    ((job, text),) = report.failed
    assert (job.agent, job.seed) == ("random", 1)
    assert ELSEWHERE in text and "--restart-partial" in text
    stored = read_records(out / "results.jsonl")
    mine = [r for r in stored if r["agent"] == "random" and r["seed"] == 1]
    assert _canon(mine) == _canon(cut)  # nothing appended to the other trajectory
    assert report.completed == 3

    report = _bench(out, restart_partial=True)
    assert not report.failed and report.completed == 1
    assert _canon(read_records(out / "results.jsonl")) == _canon(reference)
    kept = read_records(out / "results.superseded.jsonl")
    assert _canon(kept) == _canon(cut)  # set aside, not lost


def test_a_run_stored_on_this_platform_resumes_its_missing_steps(tmp_path, toys):
    _bench(tmp_path / "ref")
    reference = read_records(tmp_path / "ref" / "results.jsonl")
    head = [r for r in reference if r["type"] == "step" and r["seed"] == 0 and r["step"] <= 10]
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in head))
    report = _bench(out)
    assert not report.failed and report.completed == 4
    assert _canon(read_records(out / "results.jsonl")) == _canon(reference)
    assert not (out / "results.superseded.jsonl").exists()
