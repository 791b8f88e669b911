"""Indicators against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nasgym import indicators as ind

UNIT = [(0.0, 1.0), (0.0, 1.0)]


def test_hypervolume_2d_by_hand():
    # boxes to (1, 1): 0.8*0.4 + 0.5*0.7 - overlap 0.5*0.4 = 0.47
    assert ind.hypervolume([[0.2, 0.6], [0.5, 0.3]], UNIT) == pytest.approx(0.47)


def test_hypervolume_normalises_by_ideal_and_reference():
    # test error in [0, 100] %, params in [0, 2] M: the same set as above once normalised
    pts = [[20.0, 1.2], [50.0, 0.6]]
    assert ind.hypervolume(pts, [(0.0, 100.0), (0.0, 2.0)]) == pytest.approx(0.47)
    assert ind.normalise(pts, [(0.0, 100.0), (0.0, 2.0)]).tolist() == [[0.2, 0.6], [0.5, 0.3]]


def test_points_beyond_the_reference_add_nothing():
    base = ind.hypervolume([[0.2, 0.6], [0.5, 0.3]], UNIT)
    more = ind.hypervolume([[0.2, 0.6], [0.5, 0.3], [1.5, 0.1], [0.1, 1.0]], UNIT)
    assert more == pytest.approx(base)
    assert ind.hypervolume([[1.2, 3.0]], UNIT) == 0.0
    assert ind.hypervolume(np.empty((0, 2)), UNIT) == 0.0


def test_hypervolume_3d_by_hand():
    # 0.5^3 + 1*1*0.1 - overlap 0.5*0.5*0.1 = 0.2
    pts = [[0.5, 0.5, 0.5], [0.0, 0.0, 0.9]]
    assert ind.hypervolume(pts, [(0.0, 1.0)] * 3) == pytest.approx(0.2)


def test_hypervolume_curve_is_the_running_hypervolume():
    curve = ind.hypervolume_curve([[0.2, 0.6], [0.5, 0.3], [0.6, 0.6], [2.0, 0.0]], UNIT)
    assert curve == pytest.approx([0.32, 0.47, 0.47, 0.47])


def test_bad_bounds_are_rejected():
    with pytest.raises(ValueError, match="reference must exceed its ideal"):
        ind.normalise([[1.0, 1.0]], [(1.0, 1.0), (0.0, 1.0)])
    with pytest.raises(ValueError, match="2 objectives but bounds give 3"):
        ind.normalise([[1.0, 1.0]], [(0.0, 1.0)] * 3)


def test_nondominated_count_counts_distinct_points():
    pts = [[1, 2], [2, 1], [2, 2], [1, 2], [3, 3]]
    assert ind.nondominated_mask(pts).tolist() == [True, True, False, True, False]
    assert ind.nondominated_count(pts) == 2


def test_igd_plus_by_hand():
    front = [[0.0, 1.0], [1.0, 0.0]]
    # each reference point is 0.5 away (in the one worse coordinate) from (0.5, 0.5)
    assert ind.igd_plus([[0.5, 0.5]], front) == pytest.approx(0.5)
    assert ind.igd_plus(front, front) == pytest.approx(0.0)
    # normalised: params in [0, 2] halves the second coordinate
    assert ind.igd_plus([[0.5, 1.0]], [[0.0, 2.0], [1.0, 0.0]], UNIT) == pytest.approx(
        (0.5 + 1.0) / 2
    )
    assert ind.igd_plus([[0.5, 1.0]], [[0.0, 2.0], [1.0, 0.0]], [(0, 1), (0, 2)]) == pytest.approx(
        0.5
    )


FIG_SETS = {
    "a": [[1, 3], [2, 2], [3, 3], [1, 3]],  # (1,3) twice: counted once
    "b": [[2, 2], [3, 1], [4, 4], [2.5, 2.5]],  # (2,2) also found by a: counts for both
    "c": [[0.5, 5]],
}


def test_front_counts_and_shares_fig8_fig9():
    assert ind.front_counts(FIG_SETS) == {"a": 2, "b": 2, "c": 1}
    assert ind.front_shares(FIG_SETS) == pytest.approx({"a": 0.4, "b": 0.4, "c": 0.2})


def test_front_counts_by_step_uses_each_sets_first_points():
    by_step = ind.front_counts_by_step(FIG_SETS, [1, 2])
    assert {k: v.tolist() for k, v in by_step.items()} == {"a": [1, 2], "b": [1, 2], "c": [1, 1]}


def test_failed_evaluations_are_left_out_of_the_front():
    sets = {"a": [[np.nan, 0.0], [1.0, 1.0]], "b": [[np.inf, 0.5], [2.0, 2.0]]}
    assert ind.front_counts(sets) == {"a": 1, "b": 0}
    assert ind.front_shares({"a": np.empty((0, 2)), "b": np.empty((0, 2))}) == {"a": 0.0, "b": 0.0}


def test_failed_evaluations_add_nothing_to_any_indicator():
    # a diverged model reports infinite objectives; the results file reads them back as NaN
    good = [[0.2, 0.6], [0.5, 0.3]]
    bad = good + [[np.nan, 0.1], [np.inf, 0.0], [0.1, np.inf], [-np.inf, 0.2]]
    assert ind.hypervolume(bad, UNIT) == pytest.approx(0.47)
    curve = ind.hypervolume_curve([[0.2, 0.6], [np.nan, 0.1], [-np.inf, 0.0], [0.5, 0.3]], UNIT)
    assert curve == pytest.approx([0.32, 0.32, 0.32, 0.47])
    assert ind.nondominated_mask(bad).tolist() == [True, True, False, False, False, False]
    assert ind.nondominated_count(bad) == 2
    # by hand: (0.2, 0.6) is 0.2 from (0, 1) and 0.6 from (1, 0) -> IGD+ 0.4
    front = [[0.0, 1.0], [1.0, 0.0]]
    assert ind.igd_plus([[0.2, 0.6], [np.nan, 0.1]], front) == pytest.approx(0.4)
    assert ind.igd_plus([[np.nan, 0.1], [np.inf, 0.0]], front) == float("inf")


def test_nondominated_count_3d_by_hand():
    pts = [[1, 2, 3], [3, 2, 1], [2, 2, 2], [2, 3, 3], [1, 2, 3]]
    # (2, 3, 3) is dominated by (1, 2, 3); the rest are mutually non-dominated
    assert ind.nondominated_mask(pts).tolist() == [True, True, True, False, True]
    assert ind.nondominated_count(pts) == 3
