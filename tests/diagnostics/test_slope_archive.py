"""Loss slope and the relative-performance archive."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasgym.diagnostics import ObjectiveArchive, loss_slope, loss_slopes


def test_slope_of_a_line_is_its_coefficient() -> None:
    steps = np.arange(50)
    assert loss_slope(3.0 - 0.01 * steps) == pytest.approx(-0.01)
    assert loss_slope(np.full(20, 0.7)) == pytest.approx(0.0, abs=1e-15)


def test_slope_uses_only_the_recent_window() -> None:
    losses = np.concatenate([np.linspace(5, 1, 30), np.full(10, 1.0)])
    assert loss_slope(losses) < -0.05
    assert loss_slope(losses, window=10) == pytest.approx(0.0, abs=1e-12)


def test_slope_ignores_non_finite_values_and_needs_two_points() -> None:
    assert loss_slope([1.0, 0.9, math.nan, 0.7]) == pytest.approx(-0.1)
    assert loss_slope([math.nan, math.inf]) == 0.0
    assert loss_slope([]) == 0.0
    with pytest.raises(ValueError, match="window"):
        loss_slope([1.0, 2.0], window=1)


def test_loss_slopes_per_output() -> None:
    slopes = loss_slopes({"a": [3.0, 2.0, 1.0], "b": [1.0, 1.0, 1.0]})
    assert slopes == {"a": pytest.approx(-1.0), "b": pytest.approx(0.0)}


def test_archive_rank_is_fraction_of_strictly_better_models() -> None:
    archive = ObjectiveArchive(["err", "mse"])
    assert archive.rank({"err": 0.5, "mse": 0.5}) == {"err": 0.0, "mse": 0.0}
    for err, mse in [(0.1, 0.9), (0.2, 0.8), (0.3, 0.7), (0.4, 0.6)]:
        archive.add({"err": err, "mse": mse})
    assert archive.rank({"err": 0.25, "mse": 0.1}) == {"err": 0.5, "mse": 0.0}
    assert archive.rank({"err": 0.05, "mse": 1.0}) == {"err": 0.0, "mse": 1.0}
    assert archive.best("mse") == pytest.approx(0.6)
    assert len(archive) == 4


def test_archive_rejects_incomplete_vectors() -> None:
    archive = ObjectiveArchive(["err", "mse"])
    with pytest.raises(ValueError, match="mse"):
        archive.add({"err": 0.1})


def test_relative_slope_is_the_slope_over_the_loss_level_above_its_floor() -> None:
    from nasgym.diagnostics import relative_loss_slope

    losses = 2.0 - 0.01 * np.arange(21)  # mean 1.9 over all values, 1.82 over the last 5
    assert relative_loss_slope(losses) == pytest.approx(-0.01 / 1.9)
    assert relative_loss_slope(losses, window=5) == pytest.approx(-0.01 / 1.82)
    assert relative_loss_slope(losses, floor=1.5) == pytest.approx(-0.01 / 0.4)
    # two outputs on different scales falling by the same fraction read the same
    assert relative_loss_slope(1e-3 * losses) == pytest.approx(relative_loss_slope(losses))
    assert relative_loss_slope(losses, floor=5.0) == 0.0  # no level above the floor
    assert relative_loss_slope([1.0]) == 0.0


def test_loss_trend_projects_a_power_law_and_tests_the_recent_slope() -> None:
    from nasgym.diagnostics.slope import loss_trend

    rng = np.random.default_rng(0)
    steps = np.arange(1, 4001)
    curve = 0.5 + 2.0 * steps**-0.5  # excess over the floor 0.5 follows step ** -0.5
    gain, t = loss_trend(curve, floor=0.5, horizon=400)
    assert gain == pytest.approx(1 - (4400 / 4000) ** -0.5, rel=1e-6)
    assert t < -100  # noiseless and falling: hugely significant
    # the same curve with noise late in training: a real projected gain, but the last 50
    # batches alone do not fall significantly, and a flat noisy loss projects about nothing
    noisy = 0.5 + 2.0 * steps**-0.5 * np.exp(rng.normal(0, 0.1, len(steps)))
    gain, t = loss_trend(noisy, floor=0.5, horizon=50)
    assert 0.004 < gain < 0.008 and t > -2
    flat_gain, _ = loss_trend(np.exp(rng.normal(0, 0.1, 4000)), horizon=50)
    assert abs(flat_gain) < 1e-3
    # unit-free: scaling the loss changes neither figure
    assert loss_trend(noisy * 1000, floor=500, horizon=50) == pytest.approx((gain, t))
    assert loss_trend([1.0, 2.0]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="horizon"):
        loss_trend(curve, horizon=0)
