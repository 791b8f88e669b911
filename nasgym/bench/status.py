"""How far a bench folder has got, without reading any objective (``nasgym status DIR``).

A pre-registered comparison must not be looked at before its runs are in; counting them, though,
is what a long bench needs every hour. :func:`folder_status` reports only the runs' identities,
their step counts, wall times and provenance, never an objective, reward or info value (the
records are parsed whole, but nothing else leaves this module), so a pre-registered bench
stays blind.
"""

from __future__ import annotations

import errno
import fcntl
import statistics
from pathlib import Path
from typing import Any

from nasgym._provenance import provenance_counts
from nasgym.bench.checkpoint import CHECKPOINT_DIR, Checkpoints
from nasgym.bench.records import run_key
from nasgym.bench.results import Run, group_runs, load_runs
from nasgym.bench.store import LOCK_FILE


def seed_ranges(seeds: list[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` as ``"0-2, 5, 7-8"``."""
    spans: list[list[int]] = []
    for seed in sorted(set(seeds)):
        if spans and seed == spans[-1][1] + 1:
            spans[-1][1] = seed
        else:
            spans.append([seed, seed])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def writer_active(folder: Path | str) -> bool:
    """Whether a process holds the folder's writer lock now (a bench, sweep or study is
    writing to it). Probes the lock for an instant without waiting."""
    path = Path(folder) / LOCK_FILE
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return True
            raise
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def folder_status(folder: Path | str) -> dict[str, Any]:
    """Per env and agent label: the seeds of the complete runs, the partly stored runs (seed and
    steps stored, and the step of its checkpoint where it has one), the finished runs' wall
    times; the code versions and platforms of the
    finished runs; whether a writer holds the folder now. No objective is reported."""
    runs = load_runs(folder)
    ck = Checkpoints(str(Path(folder) / CHECKPOINT_DIR))
    envs: dict[str, dict[str, Any]] = {}
    for env, agents in group_runs(runs).items():
        rows = envs[env] = {}
        for agent, lst in agents.items():
            done = [r for r in lst if r.complete]
            walls = [float(r.done["wall_s"]) for r in done if r.done.get("wall_s") is not None]
            partial = [r for r in lst if not r.complete]
            rows[agent] = {
                "complete": [r.seed for r in done],
                "partial": {r.seed: len(r.steps) for r in partial},
                "checkpoint": {r.seed: s for r in partial if (s := _checkpoint_step(ck, r))},
                "wall_s_median": statistics.median(walls) if walls else None,
                "wall_s_total": sum(walls),
            }
    markers = [r.done for r in runs if r.done is not None]
    return {
        "folder": str(folder),
        "writing": writer_active(folder),
        "envs": envs,
        "code": provenance_counts(markers, "code"),
        "platform": provenance_counts(markers, "platform"),
    }


def _checkpoint_step(ck: Checkpoints, run: Run) -> int | None:
    """The step of the partly stored ``run``'s checkpoint (None: it has none)."""
    key = run_key(run.env, run.env_kwargs, run.agent, run.seed, run.agent_kwargs)
    header = ck.header(key)
    return None if header is None else int(header["step"])


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min"


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def format_status(status: dict[str, Any]) -> str:
    """The text ``nasgym status`` prints."""
    writing = "a process is writing to it now" if status["writing"] else "nothing is writing to it"
    lines = [f"{status['folder']}: {writing}"]
    for env, agents in status["envs"].items():
        lines.append(env)
        for agent, row in agents.items():
            text = f"  {agent}: {len(row['complete'])} complete"
            if row["complete"]:
                seeds = "seed" if len(row["complete"]) == 1 else "seeds"
                text += f" ({seeds} {seed_ranges(row['complete'])})"
            if row["partial"]:
                parts = ", ".join(
                    f"seed {s}: {n} steps"
                    + (f", checkpoint at {row['checkpoint'][s]}" if s in row["checkpoint"] else "")
                    for s, n in sorted(row["partial"].items())
                )
                text += f"; {len(row['partial'])} partly stored ({parts})"
            if row["wall_s_median"] is not None:
                text += (
                    f"; a finished run took {_minutes(row['wall_s_median'])} in the median, "
                    f"{_minutes(row['wall_s_total'])} in all"
                )
            lines.append(text)
    for field in ("code", "platform"):
        counts = status[field]
        if counts:
            mix = ", ".join(f"{value} ({_runs(n)})" for value, n in counts.items())
            lines.append(f"{field}: {mix}")
    lines.append("(no objective is shown: a pre-registered bench stays blind)")
    return "\n".join(lines)


__all__ = ["folder_status", "format_status", "seed_ranges", "writer_active"]
