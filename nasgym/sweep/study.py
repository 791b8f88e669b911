"""Running a scalarisation sweep: agents x data sets x grid points x paired seeds, via the bench.

Each grid point is one bench entry on ``nasgym/NB201-v0`` whose ``env_kwargs`` carry the data
set and the calibrated ``reward_params`` (:mod:`nasgym.sweep.grid`), so the sweep is stored in
the bench's ``results.jsonl``, resumes like ``nasgym bench`` (a killed sweep rerun with the same
arguments runs only what is missing) and can use its process-pool or Ray backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasgym.bench import BenchEntry, BenchReport, run_bench
from nasgym.bench.records import canonical_kwargs
from nasgym.sweep.grid import DEFAULT_FRACTIONS, SWEEP_REWARDS, check_fractions, reward_params
from nasgym.tables.nb201 import DATASET_COLUMNS, canonical_dataset

SWEEP_ENV = "nasgym/NB201-v0"
DEFAULT_DATASETS: tuple[str, ...] = tuple(DATASET_COLUMNS)
DEFAULT_AGENTS: tuple[str, ...] = ("reinforce", "random", "rea")


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs.

    ``agents`` search each of ``datasets`` under ``reward`` (eq9, or eq10 with the latency on
    ``device``) at each grid point ``fractions`` (of the data set's saturation exponent), from
    each of ``seeds`` (paired: every agent and grid point starts from the same seeds), with the
    NB201 protocol's ``time_budget``. ``agent_kwargs`` maps agent names to their kwargs.
    """

    datasets: tuple[str, ...] = DEFAULT_DATASETS
    agents: tuple[str, ...] = DEFAULT_AGENTS
    seeds: tuple[int, ...] = tuple(range(20))
    reward: str = "eq9"
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    device: str = "pixel3"
    time_budget: float = 12000.0
    agent_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    table_path: str | None = None

    def __post_init__(self) -> None:
        if self.reward not in SWEEP_REWARDS:
            raise ValueError(f"--reward must be one of {SWEEP_REWARDS}, got {self.reward!r}")
        if not list(self.agents) or not list(self.seeds) or not list(self.datasets):
            raise ValueError("a sweep needs at least one agent, one seed and one data set")
        object.__setattr__(self, "fractions", check_fractions(self.fractions))
        object.__setattr__(self, "seeds", tuple(dict.fromkeys(int(s) for s in self.seeds)))
        object.__setattr__(self, "agents", tuple(dict.fromkeys(self.agents)))
        try:
            datasets = tuple(dict.fromkeys(canonical_dataset(d) for d in self.datasets))
        except KeyError as err:
            raise ValueError(err.args[0]) from None
        object.__setattr__(self, "datasets", datasets)
        if not float(self.time_budget) > 0:
            raise ValueError(f"time_budget must be positive, got {self.time_budget!r}")

    def env_kwargs(self, dataset: str, fraction: float) -> dict[str, Any]:
        """The NB201-v0 kwargs of one grid point."""
        kwargs: dict[str, Any] = {
            "dataset": dataset,
            "reward": self.reward,
            "reward_params": reward_params(
                self.reward, fraction, dataset, self.device, self.table_path
            ),
            "time_budget": float(self.time_budget),
        }
        if self.reward == "eq10":
            kwargs["device"] = self.device
        if self.table_path is not None:
            kwargs["table_path"] = self.table_path
        return kwargs

    def points(self) -> list[tuple[str, float, dict[str, Any]]]:
        """Every (data set, fraction, env kwargs) of the sweep."""
        return [(d, f, self.env_kwargs(d, f)) for d in self.datasets for f in self.fractions]

    def entries(self) -> list[BenchEntry]:
        """The bench entries of the sweep, one per data set and grid point."""
        return [
            BenchEntry(SWEEP_ENV, self.agents, self.seeds, kw, None, dict(self.agent_kwargs))
            for _, _, kw in self.points()
        ]

    def lookup(self) -> dict[str, tuple[str, float]]:
        """Canonical env kwargs -> (data set, fraction), to find each run's grid point."""
        return {canonical_kwargs(kw): (d, f) for d, f, kw in self.points()}


def run_sweep(
    config: SweepConfig,
    out_dir: Path | str,
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    quiet: bool = False,
    imports: Sequence[str] = (),
    stop_after: float | None = None,
) -> tuple[BenchReport, dict[str, Any]]:
    """Run (or resume) the sweep into ``out_dir``; write ``sweep.md``, ``sweep.json`` and the
    plots; return the bench report and the sweep summary. ``stop_after`` (seconds) and
    ``OUT/STOP`` stop it starting runs, as for :func:`~nasgym.bench.run_bench`; the tables then
    cover the runs stored."""
    from nasgym.sweep.plot import plot_sweep
    from nasgym.sweep.report import summarize_sweep, write_sweep

    report = run_bench(
        config.entries(),
        out_dir,
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        imports=imports,
        progress=progress,
        plots=False,
        quiet=True,
        stop_after=stop_after,
    )
    from nasgym.bench.results import load_runs

    summary = summarize_sweep(config, load_runs(out_dir))
    text = write_sweep(out_dir, summary)
    written = plot_sweep(summary, Path(out_dir) / "plots")
    if not quiet:
        print(text)
        print(f"sweep: {Path(out_dir) / 'sweep.md'}; plots: {', '.join(map(str, written))}")
    return report, summary
