"""Benchmark harness: agents x environments x seeds, with durable, resumable results.

>>> from nasgym.bench import BenchEntry, run_bench
>>> entry = BenchEntry("nasgym/NB201-v0", ("random",), seeds=(0, 1), max_steps=20)
>>> report = run_bench([entry], "runs/demo")          # doctest: +SKIP

Records go to ``DIR/results.jsonl`` (see :mod:`nasgym.bench.records`), one fsync'ed line per
step; rerunning the same bench resumes it. The summary goes to ``DIR/summary.md`` and
``DIR/summary.json``, the plots to ``DIR/plots/``.
"""

from nasgym.bench.bench import BenchReport, run_bench
from nasgym.bench.jobs import (
    DEFAULT_BENCH,
    DEFAULT_OUT,
    BenchEntry,
    BenchError,
    Job,
    parse_agent_kwargs,
    parse_env_kwargs,
    parse_seeds,
)
from nasgym.bench.results import Run, load_runs
from nasgym.bench.runner import run_job
from nasgym.bench.store import ResultsStore, ResultsWarning, read_records
from nasgym.bench.summary import summarize, write_summary

__all__ = [
    "DEFAULT_BENCH",
    "DEFAULT_OUT",
    "BenchEntry",
    "BenchError",
    "BenchReport",
    "Job",
    "ResultsStore",
    "ResultsWarning",
    "Run",
    "load_runs",
    "parse_agent_kwargs",
    "parse_env_kwargs",
    "parse_seeds",
    "read_records",
    "run_bench",
    "run_job",
    "summarize",
    "write_summary",
]
