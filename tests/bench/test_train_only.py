"""``benchmarks/valp_train_only.py``'s per-run figures on made-up trajectories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import load

train_only = load("valp_train_only")
NAMES = ["class", "sample"]
#: README, *At the paper's budget*: training alone's test hypervolume at step 60, and each agent's
#: (mean, Holm-adjusted p against training alone) on the same 20 seeds
TRAIN_ONLY_TEST_HV = 0.450
AGAINST_TRAIN_ONLY = {"random": (0.533, 1.3e-05), "rules": (0.557, 7.6e-06)}  # p to 2 digits
BOUNDS = [(0.0, 1.0), (0.0, 300.0)]


def test_rise_is_the_held_objective_at_the_end_over_its_best():
    # the sampler's distance falls to 70, then climbs to 250 while the class error keeps falling
    points = np.array([[0.5, 280.0], [0.3, 90.0], [0.2, 70.0], [0.15, 160.0], [0.1, 250.0]])
    out = train_only.metrics(points, NAMES, BOUNDS)
    assert out["rise class"] == 1.0
    assert out["rise sample"] == pytest.approx(250.0 / 70.0)
    assert out["chosen sample"] == 250.0
    # a search's held model is not its last candidate: a rejected candidate leaves it unchanged
    held = np.array([[0.5, 280.0], [0.3, 90.0], [0.3, 90.0], [0.2, 80.0], [0.2, 100.0]])
    out = train_only.metrics(points, NAMES, BOUNDS, held=held)
    assert out["rise sample"] == pytest.approx(100.0 / 80.0) and out["rise class"] == 1.0


def test_out_keeps_each_seed_and_a_rerun_trains_only_the_seeds_not_stored(tmp_path):
    """A long baseline spans sessions: each seed's episode is stored as it ends (crash-safe: a
    torn line from ``kill -9`` is repaired), and a rerun reads the stored ones back."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "valp_train_only.py"
    kwargs = json.dumps({"dataset": "digits", "initial_batches": 5, "step_batches": 2})

    def run(*args: str) -> tuple[str, dict]:
        cmd = [sys.executable, str(script), "--env-kwargs", kwargs, *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout, json.loads(done.stdout.splitlines()[-1])

    run("--steps", "3", "--seeds", "0-1", "--out", str(tmp_path))
    stored = tmp_path / "results.jsonl"
    assert len(stored.read_text().splitlines()) == 2
    with open(stored, "a") as fh:
        fh.write('{"type": "done", "env": "nasgym/VALP-Pa')  # a write cut short
    out, resumed = run("--steps", "3", "--seeds", "0-2", "--out", str(tmp_path))
    assert f"{tmp_path}: 2 of 3 seeds stored" in out
    lines = stored.read_text().splitlines()
    assert len(lines) == 3 and sorted(json.loads(x)["seed"] for x in lines) == [0, 1, 2]
    assert all(json.loads(x)["code"] and json.loads(x)["platform"] for x in lines)  # provenance
    assert resumed["train_only"] == run("--steps", "3", "--seeds", "0-2")[1]["train_only"]
    # other steps are another baseline: nothing stored is reused for it
    out, _ = run("--steps", "2", "--seeds", "0-0", "--out", str(tmp_path))
    assert f"{tmp_path}: 0 of 1 seeds stored" in out


def test_training_alone_at_the_papers_budget_recomputes_from_the_committed_records(
    tmp_path, capsys
):
    """The issue-8 secondary at 5,000 / 1,000 batches (README, *At the paper's budget*): the
    stored training-only episodes against the committed random and rules runs, nothing
    retrained (every seed is stored); the Holm-adjusted test hypervolume and the plot."""
    import gzip

    records = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "records"
    stored = gzip.decompress((records / "trainonly-5000" / "results.jsonl.gz").read_bytes())
    (tmp_path / "results.jsonl").write_bytes(stored)
    kwargs = {"eval_samples": 2000, "test_samples": 5000, "initial_batches": 5000,
              "step_batches": 1000}  # fmt: skip
    plot = tmp_path / "train_only.png"
    out = train_only.main(
        ["--env-kwargs", json.dumps(kwargs), "--steps", "60", "--seeds", "160-179",
         "--out", str(tmp_path), "--compare", str(records / "heldout-5000"),
         "--plot", str(plot)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert f"{tmp_path}: 20 of 20 seeds stored" in printed
    assert "test hypervolume at the last step, Holm-adjusted over the 2 compared runs" in printed
    assert plot.stat().st_size > 10_000
    assert round(out["train_only"]["test hypervolume"], 3) == TRAIN_ONLY_TEST_HV
    tests = {label.split("(")[0]: t["test hypervolume"] for label, t in out["tests"].items()}
    for agent, (mean, p_holm) in AGAINST_TRAIN_ONLY.items():
        assert round(tests[agent]["agent_mean"], 3) == mean
        assert float(f"{tests[agent]['p_holm']:.2g}") == p_holm
