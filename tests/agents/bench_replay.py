"""A shared check: an agent runs through ``nasgym bench`` and a second run repeats its actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasgym.bench import BenchEntry, read_records, run_bench


def assert_benches_and_replays(
    tmp: Path, env_id: str, agent: str, kwargs: dict[str, Any], steps: int
) -> None:
    """Bench ``agent`` on ``env_id`` (seed 0, ``steps`` steps) twice into separate folders: both
    complete, every step is the agent's, and the actions are the same."""
    entry = BenchEntry(env_id, (agent,), (0,), kwargs, steps)
    for out in ("a", "b"):
        report = run_bench([entry], tmp / out, progress=False, plots=False, quiet=True)
        assert report.completed == 1 and not report.failed
    a, b = (read_records(tmp / o / "results.jsonl") for o in ("a", "b"))
    done = [r for r in a if r["type"] == "step"]
    assert len(done) == steps and all(r["agent"] == agent for r in done)
    assert [r["action"] for r in done] == [r["action"] for r in b if r["type"] == "step"]
