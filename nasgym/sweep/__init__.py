"""Scalarisation sweeps: trace NB201's accuracy/size trade-off with a calibrated beta grid.

>>> from nasgym.sweep import SweepConfig, run_sweep
>>> config = SweepConfig(datasets=("cifar10",), agents=("reinforce", "random"), seeds=range(5))
>>> report, summary = run_sweep(config, "runs/sweep")    # doctest: +SKIP

Or ``nasgym sweep --out runs/sweep``. See :mod:`nasgym.sweep.grid` (calibration),
:mod:`nasgym.sweep.study` (what runs, resumable through the bench store) and
:mod:`nasgym.sweep.report` (tables, IGD+, paired tests).
"""

from nasgym.sweep.grid import DEFAULT_FRACTIONS, calibration, reward_params, saturation_exponent
from nasgym.sweep.study import DEFAULT_AGENTS, DEFAULT_DATASETS, SweepConfig, run_sweep

__all__ = [
    "DEFAULT_AGENTS",
    "DEFAULT_DATASETS",
    "DEFAULT_FRACTIONS",
    "SweepConfig",
    "calibration",
    "reward_params",
    "run_sweep",
    "saturation_exponent",
]
