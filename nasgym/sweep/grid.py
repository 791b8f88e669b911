"""The calibrated exponent grid of a scalarisation sweep on NAS-Bench-201.

On NB201 a cell's params span 0.07-1.54 M (a factor of ~21) while the 12-epoch validation
accuracies of good cells differ by a few percent, so ``R = acc * (params / P) ** beta`` trades
accuracy for size only for small ``|beta|``: the paper's values (beta <= -0.2) make the
smallest cell the reward's optimum on CIFAR-10. The grid is therefore calibrated per data set:

- the *saturation exponent* ``beta_sat`` is the largest ``beta`` (closest to 0) at which the
  reward's optimum over the whole table is a smallest cell. For ``beta <= beta_sat`` the search
  has nothing left to trade. It is computed from the 12-epoch validation accuracies, the values
  the reward sees (never a test accuracy): ``beta_sat = -max_k (log acc_k - log acc_s) /
  (log params_k - log params_s)`` over the cells ``k`` larger than the best smallest cell ``s``;
- the grid is ``beta = f * beta_sat`` for the fractions ``f`` of :data:`DEFAULT_FRACTIONS`
  (0 is the accuracy-only search). Measured ``beta_sat``: cifar10 -0.167, cifar100 -0.259,
  ImageNet16-120 -0.470; beyond ``f`` of about 0.45 the table's optimum is (nearly) the
  smallest cell on every data set.

``P`` (and ``L``) of Eq. 9 are left at 1: a constant factor of the reward cancels in
REINFORCE with Adam (the update is invariant to the reward's scale), in REA's tournaments and
in the incumbent's argmax. In Eq. 10 ``P`` and ``L`` weigh the two terms against each other, so
the eq10 sweep sets them to the table's median params and latency (both terms are 1 at a
median cell), ``a = 0.5``, and scales ``beta`` and ``gamma`` by the same fraction of their own
saturation exponents (``gamma_sat`` from the latency on ``device``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.tables.nb201 import canonical_dataset, load_nb201

#: fractions of the saturation exponent swept by default (0: accuracy only)
DEFAULT_FRACTIONS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45)
#: the rewards a sweep can scan
SWEEP_REWARDS = ("eq9", "eq10")


def saturation_exponent(values: np.ndarray, acc: np.ndarray) -> float:
    """The exponent at which ``acc * values ** e`` is maximised by a smallest-``values`` cell.

    ``values`` (params or latency) must be positive and ``acc`` (fractions) non-negative; cells
    with zero accuracy are ignored."""
    values, acc = np.asarray(values, dtype=float), np.asarray(acc, dtype=float)
    ok = (acc > 0) & np.isfinite(acc) & (values > 0) & np.isfinite(values)
    if ok.sum() < 2:
        raise ValueError("saturation_exponent needs at least two cells with positive values")
    lv, la = np.log(values[ok]), np.log(acc[ok])
    smallest = np.isclose(lv, lv.min())
    s = int(np.flatnonzero(smallest)[np.argmax(la[smallest])])
    larger = lv > lv[s] + 1e-12
    if not larger.any():
        raise ValueError("every cell has the same value: there is nothing to trade")
    slopes = (la[larger] - la[s]) / (lv[larger] - lv[s])
    return float(-max(slopes.max(), 0.0))


@lru_cache(maxsize=32)
def _calibration(dataset: str, device: str, table_path: str | None) -> dict[str, float]:
    table = load_nb201(table_path)
    ds = canonical_dataset(dataset)
    acc = table.valid_acc_12(ds).astype(np.float64) / 100.0
    params = table.params(ds).astype(np.float64)
    latency = table.latency(device).astype(np.float64)
    return {
        "beta_sat": saturation_exponent(params, acc),
        "gamma_sat": saturation_exponent(latency, acc),
        "median_params": float(np.median(params)),
        "median_latency": float(np.median(latency)),
    }


def calibration(
    dataset: str, device: str = "pixel3", table_path: str | Path | None = None
) -> dict[str, float]:
    """``beta_sat``, ``gamma_sat`` (latency on ``device``), median params and latency of a data set."""
    return dict(
        _calibration(
            canonical_dataset(dataset), device, None if table_path is None else str(table_path)
        )
    )


def reward_params(
    reward: str,
    fraction: float,
    dataset: str,
    device: str = "pixel3",
    table_path: str | Path | None = None,
) -> dict[str, Any]:
    """The ``reward_params`` of one grid point: ``fraction`` of the saturation exponent(s)."""
    if reward not in SWEEP_REWARDS:
        raise ValueError(f"a sweep scans one of {SWEEP_REWARDS}, got reward {reward!r}")
    if not (0.0 <= float(fraction) <= 1.0):
        raise ValueError(f"grid fractions must be in [0, 1] (of beta_sat), got {fraction!r}")
    cal = calibration(dataset, device, table_path)
    beta = round(float(fraction) * cal["beta_sat"], 6) + 0.0  # no -0.0 in stored kwargs
    if reward == "eq9":
        return {"beta": beta}
    gamma = round(float(fraction) * cal["gamma_sat"], 6) + 0.0
    return {
        "beta": beta,
        "gamma": gamma,
        "a": 0.5,
        "P": round(cal["median_params"], 6),
        "L": round(cal["median_latency"], 6),
    }


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """The grid fractions, validated: distinct, in [0, 1], sorted ascending."""
    out = tuple(sorted(float(f) for f in fractions))
    if not out:
        raise ValueError("the grid needs at least one fraction")
    if len(set(out)) != len(out):
        raise ValueError(f"grid fractions must be distinct, got {list(fractions)}")
    bad = [f for f in out if not 0.0 <= f <= 1.0]
    if bad:
        raise ValueError(f"grid fractions must be in [0, 1] (of beta_sat), got {bad}")
    return out
