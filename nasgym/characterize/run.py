"""``run_characterize``: run the study's missing models on a bench backend, durably; rebuild the
columnar table and the report."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasgym._provenance import listed_mix, provenance_counts
from nasgym.bench.backends import StopRule, check_stop_after, run_tasks
from nasgym.bench.jobs import BenchError
from nasgym.bench.records import canonical_kwargs
from nasgym.bench.store import ResultsStore, read_records, results_file
from nasgym.characterize.study import STUDY_AGENT, STUDY_ENV, StudyConfig, Unit, run_unit

BACKENDS = ("local", "ray")
TABLE_CSV, TABLE_PARQUET = "records.csv", "records.parquet"


@dataclass
class StudyReport:
    """What a run did: models skipped (already stored), run now, failed; the files written."""

    out_dir: Path
    skipped: int = 0
    completed: int = 0
    failed: list[tuple[Unit, str]] = field(default_factory=list)
    rows: int = 0
    files: list[Path] = field(default_factory=list)
    report: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    #: models left to a later rerun because ``stop_after`` ran out or ``OUT/STOP`` appeared
    not_started: int = 0


def stored_units(records: Sequence[dict[str, Any]], config: StudyConfig) -> dict[int, dict]:
    """The stored unit records of ``config`` by seed (records of another setting are ignored)."""
    key = canonical_kwargs(config.key())
    return {
        int(r["seed"]): r
        for r in records
        if r.get("env") == STUDY_ENV
        and r.get("agent") == STUDY_AGENT
        and canonical_kwargs(r.get("env_kwargs") or {}) == key
    }


def run_characterize(
    config: StudyConfig,
    seeds: Sequence[int],
    out_dir: Path | str,
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    report: bool = True,
    quiet: bool = False,
    stop_after: float | None = None,
) -> StudyReport:
    """Study every model of ``seeds`` not stored yet in ``out_dir``; write the table and report.

    Records go to ``OUT/results.jsonl`` (one fsync'ed line per finished model; a rerun skips
    the stored ones), the table to ``OUT/records.csv`` (and ``records.parquet`` when pyarrow is
    installed), the report to ``OUT/report.md``, ``report.json``, ``thresholds.json`` and
    ``plots/``. Arguments are checked before ``out_dir`` is touched (:class:`BenchError`).
    ``stop_after`` (seconds) and ``OUT/STOP`` stop it starting models, as for
    :func:`~nasgym.bench.run_bench`; ``not_started`` counts those left to a rerun.
    """
    check_stop_after(stop_after)
    _validate(config, seeds, backend)
    out = Path(out_dir)
    result = StudyReport(out)
    store = ResultsStore(out)
    try:
        stored = store.open()
    except RuntimeError as err:
        raise BenchError(str(err)) from None
    except OSError as err:
        raise BenchError(f"cannot use {str(out_dir)!r} as the output folder: {err}") from None
    try:
        have = stored_units(stored, config)
        todo = [Unit(int(s), config) for s in seeds if int(s) not in have]
        result.skipped = len(seeds) - len(todo)
        if result.skipped and not quiet:
            print(f"resuming {store.path}: {result.skipped} of {len(seeds)} models stored")
        from tqdm.auto import tqdm

        bar = tqdm(total=len(seeds), initial=result.skipped, unit="model", disable=not progress)

        stop = StopRule.for_folder(out, stop_after)

        def sink(rec: dict[str, Any]) -> None:
            store.append(rec)
            result.completed += 1
            bar.update(1)

        def on_error(unit: Unit, text: str) -> None:
            result.failed.append((unit, text))
            bar.write(f"{unit.label} failed:\n{text}", file=sys.stderr)

        try:
            tasks = [(u, frozenset(), {}, None) for u in todo]
            run_tasks(tasks, sink, on_error, backend, workers, ray_address, run_unit, stop)
        finally:
            bar.close()
        result.not_started = len(todo) - result.completed - len(result.failed)
        said = stop.finish(result.not_started, "model")
        if said and not quiet:
            print(said)
    finally:
        store.close()
    units = stored_units(read_records(out / "results.jsonl"), config)
    rows = _rows(units, seeds)
    result.rows = len(rows)
    result.warnings = provenance_warnings(units, seeds, out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result.files = write_table(rows, out)
    if report and rows:
        from nasgym.characterize.report import write_report

        result.report, files = write_report(rows, out, config)
        result.files += files
    if not quiet:
        print(f"{len(rows)} applications on {len(seeds) - len(result.failed)} models")
        for path in result.files:
            print(f"wrote {path}")
    return result


def _validate(config: StudyConfig, seeds: Sequence[int], backend: str) -> None:
    from nasgym.data import load_dataset
    from nasgym.valp.operators import OPERATORS

    if backend not in BACKENDS:
        raise BenchError(f"--backend must be one of {BACKENDS}, got {backend!r}")
    if not seeds:
        raise BenchError("no models to study: give --models N (>= 1)")
    for name in config.operators:
        try:
            OPERATORS.get(name)
        except KeyError as err:
            raise BenchError(f"--operators: {err.args[0]}") from None
    try:
        load_dataset(config.dataset, config.data_dir)
    except (FileNotFoundError, KeyError, ValueError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err  # no KeyError quotes
        raise BenchError(f"--dataset {config.dataset!r}: {msg}") from None


def provenance_warnings(units: dict[int, dict], seeds: Sequence[int], where: Any) -> list[str]:
    """A warning when the stored models (``units``, :func:`stored_units`) of ``seeds`` were
    studied by more than one code version, or on more than one platform (a folder resumed after
    a code change or on another machine: the same seed then gives other records)."""
    records = [units[int(s)] for s in seeds if int(s) in units]
    found = []
    for field_name, what in (("code", "code versions"), ("platform", "platforms")):
        counts = provenance_counts(records, field_name)
        listed = listed_mix(counts, "models")
        if listed:
            found.append(
                f"{where}: these models were studied by {len(counts)} {what}: {listed}. "
                "The records may mix those differences with the operators'; rerun into a new "
                "--out to study every model under one."
            )
    return found


def load_rows(
    out_dir: Path | str, config: StudyConfig, seeds: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """The flat application records stored in ``out_dir`` for ``config`` (those of ``seeds``
    only, when given), in seed then application order; stored nulls read back as NaN."""
    return _rows(stored_units(read_records(results_file(out_dir)), config), seeds)


def _rows(units: dict[int, dict], seeds: Sequence[int] | None) -> list[dict[str, Any]]:
    wanted = sorted(units) if seeds is None else [int(s) for s in seeds if int(s) in units]
    rows = []
    for seed in wanted:
        for app in units[seed].get("applications") or []:
            rows.append({k: (math.nan if v is None else v) for k, v in app.items()})
    return rows


def columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every column of ``rows``, in first-seen order."""
    return list(dict.fromkeys(k for r in rows for k in r))


def write_table(rows: Sequence[dict[str, Any]], out_dir: Path | str) -> list[Path]:
    """Write ``rows`` as ``records.csv`` and, with pyarrow installed, ``records.parquet``."""
    out = Path(out_dir)
    cols = columns(rows)
    path = out / TABLE_CSV
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, restval="")
        writer.writeheader()
        writer.writerows(rows)
    files = [path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return files
    table = pa.table({c: [r.get(c) for r in rows] for c in cols})
    pq.write_table(table, out / TABLE_PARQUET)
    return [*files, out / TABLE_PARQUET]
