"""``run_bench``: validate, resume from the results store, run what is missing, summarise."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasgym.bench.backends import StopRule, Task, check_stop_after, release, run_tasks
from nasgym.bench.checkpoint import DEFAULT_EVERY, Checkpoints
from nasgym.bench.jobs import BenchEntry, BenchError, Job, import_modules, validate
from nasgym.bench.records import RunKey, record_key
from nasgym.bench.runner import run_job
from nasgym.bench.store import ResultsStore, read_records


@dataclass
class BenchReport:
    """What a bench did: runs skipped (already stored), run now, failed; the summary."""

    out_dir: Path
    skipped: int = 0
    completed: int = 0
    failed: list[tuple[Job, str]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    summary_text: str = ""
    plots: list[Path] = field(default_factory=list)
    #: what the results file needed repaired when the bench opened it (one line each)
    repaired: list[str] = field(default_factory=list)
    #: runs left to a later rerun because ``stop_after`` ran out or ``DIR/STOP`` appeared
    not_started: int = 0


def plan(jobs: Sequence[Job], records: list[dict[str, Any]]) -> tuple[list[Task], int]:
    """The tasks still to run (with the steps stored of each) and the number of finished runs."""
    steps: dict[RunKey, dict[int, Any]] = {}
    platforms: dict[RunKey, set[str | None]] = {}
    done: dict[RunKey, dict[str, Any]] = {}
    for rec in records:
        key = record_key(rec)
        if rec["type"] == "done":
            done[key] = rec
        else:
            steps.setdefault(key, {})[int(rec["step"])] = rec.get("action")
            platforms.setdefault(key, set()).add(rec.get("platform"))
    tasks, skipped = [], 0
    for job in jobs:
        marker = done.get(job.key)
        if marker is not None:
            skipped += 1
            if marker.get("max_steps") != job.max_steps:
                print(
                    f"note: keeping the stored run {job.label} "
                    f"(max_steps {marker.get('max_steps')}, now asked {job.max_steps}); "
                    "use another --out to run it again",
                    file=sys.stderr,
                )
            continue
        stored = steps.get(job.key, {})
        # the platform of the stored steps, where they all name the same one
        named = platforms.get(job.key, set())
        platform = next(iter(named)) if len(named) == 1 else None
        tasks.append((job, frozenset(stored), stored, platform))
    return tasks, skipped


def partial_runs(jobs: Sequence[Job], records: list[dict[str, Any]]) -> set[RunKey]:
    """The runs of ``jobs`` with steps stored and no done marker."""
    done = {record_key(r) for r in records if r["type"] == "done"}
    stepped = {record_key(r) for r in records if r["type"] == "step"}
    return {j.key for j in jobs if j.key in stepped and j.key not in done}


def run_bench(
    entries: Sequence[BenchEntry],
    out_dir: Path | str,
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    imports: Sequence[str] = (),
    progress: bool = True,
    plots: bool = True,
    quiet: bool = False,
    restart_partial: bool = False,
    stop_after: float | None = None,
    checkpoint_every: float = DEFAULT_EVERY,
    blind: bool = False,
) -> BenchReport:
    """Run every job of ``entries`` not stored yet in ``out_dir``; write the summary and plots.

    Arguments are validated before ``out_dir`` is touched (:class:`~nasgym.bench.jobs.BenchError`).
    A partly stored run is replayed from its seed and only its missing steps are appended; one
    stored on another platform (torch, CPU kernels) fails with a message, since its replay would
    not retrace the stored steps. ``restart_partial`` first moves every partly stored run of the
    bench into ``DIR/results.superseded.jsonl`` (kept, not deleted), so that each runs anew.

    Stopping early without losing work: no run starts once ``stop_after`` seconds have passed
    since the call, or once a file ``DIR/STOP`` exists (``touch DIR/STOP`` while it runs); the
    runs under way finish and are stored, the summary covers what is stored, and
    ``report.not_started`` counts the runs left for a rerun of the same call. A ``DIR/STOP``
    found when the bench starts is removed (it was meant for an earlier bench).

    Checkpoints: each run writes its state to ``DIR/checkpoints/`` at most every
    ``checkpoint_every`` seconds (0: never), so a run cut by ``kill -9`` resumes from its last
    checkpoint rather than from its seed (:mod:`nasgym.bench.checkpoint`); a run's checkpoint is
    removed once the run is stored whole.

    ``blind``: no summary, table or plot is computed, written or printed, so a comparison
    written down before it ran can be run (and resumed) without an interim look; ``nasgym
    status DIR`` counts its runs, ``nasgym plot DIR`` summarises it when the comparison is due.
    """
    check_stop_after(stop_after)
    import_modules(imports)
    validate(entries, backend)
    release()  # the envs and agents built to validate
    jobs = [j for e in entries for j in e.jobs(tuple(imports))]
    if len({j.key for j in jobs}) != len(jobs):
        raise ValueError(
            "the bench lists the same (env, env kwargs, agent, agent kwargs, seed) run twice"
        )
    report = BenchReport(Path(out_dir))
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise BenchError(
            f"--out {str(out_dir)!r} is a file, not a folder; give a folder path (it is created "
            "if missing)"
        )
    store = ResultsStore(out_dir)
    try:
        stored = store.open()
    except RuntimeError as err:
        raise BenchError(str(err)) from None
    except OSError as err:  # e.g. --out names a file, or a folder we may not write
        raise BenchError(f"cannot use {str(out_dir)!r} as the output folder: {err}") from None
    if store.repair and not quiet:
        print(f"repaired {store.path}:", file=sys.stderr)
        for line in store.repair.lines():
            print(f"  {line}", file=sys.stderr)
    report.repaired = store.repair.lines()
    stop = StopRule.for_folder(out_dir, stop_after)
    try:
        checkpoints = Checkpoints.for_folder(out_dir, checkpoint_every)
        runner = (
            run_job if checkpoints is None else functools.partial(run_job, checkpoints=checkpoints)
        )
        if restart_partial:
            cut = partial_runs(jobs, stored)
            moved, side = store.set_aside(cut)
            for key in cut if checkpoints is not None else ():
                checkpoints.remove(key)
            if not quiet:
                print(
                    f"--restart-partial: {len(cut)} partly stored run(s) set aside ({moved} "
                    f"records, kept in {side}); they run anew"
                )
            stored = [r for r in stored if record_key(r) not in cut]
        tasks, report.skipped = plan(jobs, stored)
        partial = sum(1 for t in tasks if t[1])
        if (report.skipped or partial) and not quiet:
            print(
                f"resuming {store.path}: {report.skipped} of {len(jobs)} runs complete, "
                f"{partial} partly stored (replayed; only their missing steps are appended)"
            )
        bar = _Bar(jobs, tasks, enabled=progress, records=stored)

        finished: set[RunKey] = set()

        def sink(rec: dict[str, Any]) -> None:
            store.append(rec)
            if rec["type"] == "done":
                report.completed += 1
                finished.add(record_key(rec))
                if checkpoints is not None:
                    checkpoints.remove(record_key(rec))
                bar.finish_run(rec)
            else:
                bar.step(rec)

        def on_error(job: Job, text: str) -> None:
            report.failed.append((job, text))
            bar.write(f"run {job.label} failed:\n{text}")

        try:
            run_tasks(
                tasks, sink, on_error, backend, workers, ray_address, stop=stop, runner=runner
            )
        finally:
            bar.close()
        ended = finished | {job.key for job, _ in report.failed}
        report.not_started = sum(1 for t in tasks if t[0].key not in ended)
    finally:
        store.close()
    said = stop.finish(report.not_started)
    if said and not quiet:
        print(said)
    if blind:
        if not quiet:
            print(
                f"blind: no summary written; {report.out_dir / 'results.jsonl'} holds the runs "
                f"(nasgym status {report.out_dir} counts them, nasgym plot {report.out_dir} "
                "summarises them)"
            )
        return report
    _finish(report, plots, quiet)
    return report


def _finish(report: BenchReport, plots: bool, quiet: bool) -> None:
    from nasgym.bench.results import load_runs
    from nasgym.bench.summary import summarize, summary_warnings, write_summary

    runs = load_runs(report.out_dir)
    report.summary = summarize(runs)
    report.summary_text = write_summary(report.out_dir, report.summary)
    if plots:
        from nasgym.plots import plot_all

        report.plots = plot_all(runs, report.out_dir)
    for env in report.summary["envs"]:
        for warning in summary_warnings(env):
            print(f"warning: {warning}", file=sys.stderr)
    if not quiet:
        print(report.summary_text)
        print(
            f"results: {report.out_dir / 'results.jsonl'}; summary: {report.out_dir / 'summary.md'}"
        )
        if report.plots:
            print(f"plots: {report.out_dir / 'plots'} ({len(report.plots)} files)")


class _Bar:
    """A tqdm bar over all runs, measured in expected cost: each run weighs the mean wall time of
    the finished runs of its env (stored ones and those of this bench; before any has finished,
    the mean over every env, else 1). So a 20-second VALP run and a millisecond NB201 run weigh
    what they cost, and the ETA is in seconds. A run with a step limit advances by its share of
    steps (never past 99% before its done marker); the bar never passes its total.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        tasks: Sequence[Task],
        enabled: bool,
        records: Sequence[dict[str, Any]] = (),
    ) -> None:
        from tqdm.auto import tqdm

        self.env = {t[0].key: t[0].key[:2] for t in tasks}
        self.limit = {t[0].key: t[0].max_steps for t in tasks}
        self.steps = {t[0].key: len(t[1]) for t in tasks}  # steps stored or emitted so far
        self.finished: set[RunKey] = set()
        self.walls: dict[tuple[str, str], list[float]] = {}
        for rec in records:
            if rec["type"] == "done" and rec.get("wall_s") is not None:
                self.walls.setdefault(record_key(rec)[:2], []).append(float(rec["wall_s"]))
        self.n_tasks = len(tasks)
        n, total = self._position()
        self.bar = tqdm(
            total=total,
            initial=n,
            desc=self._desc(),
            disable=not enabled,
            dynamic_ncols=True,
            bar_format=_BAR_FORMAT,
        )

    def _expected(self, env: tuple[str, str]) -> float:
        walls = self.walls.get(env)
        if walls:
            return max(sum(walls) / len(walls), 1e-6)
        every = [w for ws in self.walls.values() for w in ws]
        return max(sum(every) / len(every), 1e-6) if every else 1.0

    def _fraction(self, key: RunKey) -> float:
        if key in self.finished:
            return 1.0
        limit = self.limit.get(key)
        return min(self.steps.get(key, 0) / limit, 0.99) if limit else 0.0

    def _position(self) -> tuple[float, float]:
        weights = {k: self._expected(env) for k, env in self.env.items()}
        total = sum(weights.values())
        n = sum(w * self._fraction(k) for k, w in weights.items())
        return min(n, total), total

    def _desc(self) -> str:
        return f"{len(self.finished)}/{self.n_tasks} runs"

    def _refresh(self) -> None:
        n, total = self._position()
        self.bar.total = total
        self.bar.n = n
        self.bar.set_description_str(self._desc(), refresh=False)
        self.bar.refresh()

    def step(self, rec: dict[str, Any]) -> None:
        key = record_key(rec)
        self.steps[key] = self.steps.get(key, 0) + 1
        self._refresh()

    def finish_run(self, rec: dict[str, Any]) -> None:
        key = record_key(rec)
        self.finished.add(key)
        if rec.get("wall_s") is not None:
            self.walls.setdefault(key[:2], []).append(float(rec["wall_s"]))
        self._refresh()

    def write(self, text: str) -> None:
        self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


#: the bar counts expected seconds of work: show the percentage and the time, not the units
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"


def stored_records(out_dir: Path | str) -> list[dict[str, Any]]:
    """The records stored in ``out_dir`` (without touching the file)."""
    return read_records(Path(out_dir) / "results.jsonl")
