"""A shared check: an agent runs through ``nasgym bench`` and a second run repeats its actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasgym.bench import BenchEntry, read_records, run_bench


def assert_benches_and_replays(
    tmp: Path,
    env_id: str,
    agent: str,
    kwargs: dict[str, Any],
    steps: int,
    agent_kwargs: dict[str, Any] | None = None,
) -> None:
    """Bench ``agent`` (with ``agent_kwargs``) on ``env_id`` (seed 0, ``steps`` steps) twice into
    separate folders: both complete, every step is the agent's, and the actions and objectives
    are the same."""
    extra = {agent: dict(agent_kwargs)} if agent_kwargs else {}
    entry = BenchEntry(env_id, (agent,), (0,), kwargs, steps, agent_kwargs=extra)
    for out in ("a", "b"):
        report = run_bench([entry], tmp / out, progress=False, plots=False, quiet=True)
        assert report.completed == 1 and not report.failed
    a, b = (read_records(tmp / o / "results.jsonl") for o in ("a", "b"))
    done = [r for r in a if r["type"] == "step"]
    assert len(done) == steps and all(r["agent"] == agent for r in done)
    again = [r for r in b if r["type"] == "step"]
    assert [r["action"] for r in done] == [r["action"] for r in again]
    assert [r["objectives"] for r in done] == [r["objectives"] for r in again]
