"""Linear-probe dependency measures on constructed activations."""

from __future__ import annotations

import numpy as np
import pytest

from nasgym.diagnostics import dependency_scores, probe_error


def test_classification_probe_separates_informative_from_random_features() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=400)
    informative = np.eye(5)[labels] + 0.1 * rng.normal(size=(400, 5))
    random = rng.normal(size=(400, 5))
    assert probe_error(informative, labels, "classification") < 0.05
    assert probe_error(random, labels, "classification") > 0.6


def test_regression_probe_error_is_one_minus_r2() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6))
    y = x @ rng.normal(size=(6, 3))
    assert probe_error(x, y, "regression") < 0.01
    assert probe_error(rng.normal(size=(300, 6)), y, "sampling") > 0.9


def test_non_finite_activations_predict_nothing() -> None:
    x = np.full((20, 3), np.nan)
    assert probe_error(x, np.arange(20) % 2, "classification") == 1.0


def test_probe_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="kind"):
        probe_error(np.zeros((10, 2)), np.zeros(10), "ranking")
    with pytest.raises(ValueError, match="samples"):
        probe_error(np.zeros((10, 2)), np.zeros(9), "regression")


def test_gain_compares_a_network_with_its_predecessors() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=300)
    activations = {
        "i:x": rng.normal(size=(300, 4)),  # the input says nothing about the label
        "n:0": np.eye(3)[labels] + 0.05 * rng.normal(size=(300, 3)),
    }
    result = dependency_scores(
        activations,
        {"class": labels},
        {"class": "classification"},
        [("n:0", "class")],
        {"n:0": ["i:x"]},
    )
    assert result.error[("n:0", "class")] < 0.05
    assert result.gain[("n:0", "class")] > 0.4


@pytest.mark.parametrize("shape", [(40, 5), (10, 30)])  # primal and dual forms
def test_ridge_matches_scikit_learn(shape: tuple[int, int]) -> None:
    from sklearn.linear_model import Ridge

    from nasgym.diagnostics.dependency import ridge_fit_predict

    rng = np.random.default_rng(3)
    x, y, x_new = (
        rng.normal(size=shape),
        rng.normal(size=(shape[0], 2)),
        rng.normal(size=(7, shape[1])),
    )
    expected = Ridge(alpha=0.7).fit(x, y).predict(x_new)
    np.testing.assert_allclose(ridge_fit_predict(x, y, x_new, 0.7), expected, rtol=1e-6, atol=1e-8)
