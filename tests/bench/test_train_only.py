"""``benchmarks/valp_train_only.py``'s per-run figures on made-up trajectories."""

from __future__ import annotations

import numpy as np
import pytest
from benchmark_scripts import load

train_only = load("valp_train_only")
NAMES = ["class", "sample"]
BOUNDS = [(0.0, 1.0), (0.0, 300.0)]


def test_rise_is_the_held_objective_at_the_end_over_its_best():
    # the sampler's distance falls to 70, then climbs to 250 while the class error keeps falling
    points = np.array([[0.5, 280.0], [0.3, 90.0], [0.2, 70.0], [0.15, 160.0], [0.1, 250.0]])
    out = train_only.metrics(points, NAMES, BOUNDS)
    assert out["rise class"] == 1.0
    assert out["rise sample"] == pytest.approx(250.0 / 70.0)
    assert out["chosen sample"] == 250.0
    # a search's held model is not its last candidate: a rejected candidate leaves it unchanged
    held = np.array([[0.5, 280.0], [0.3, 90.0], [0.3, 90.0], [0.2, 80.0], [0.2, 100.0]])
    out = train_only.metrics(points, NAMES, BOUNDS, held=held)
    assert out["rise sample"] == pytest.approx(100.0 / 80.0) and out["rise class"] == 1.0
