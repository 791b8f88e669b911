"""Statistics of results: t quantiles, paired Wilcoxon tests with effect sizes, Holm, Welch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from nasgym import stats


def test_t_quantile_gives_the_95_percent_interval_factor():
    assert stats.t_quantile(1) == pytest.approx(12.7062, abs=1e-4)
    assert stats.t_quantile(4) == pytest.approx(2.7764, abs=1e-4)
    assert stats.t_quantile(10**6) == pytest.approx(1.96, abs=1e-3)
    with pytest.raises(ValueError, match="degrees of freedom"):
        stats.t_quantile(0)


def test_mean_ci_covers_the_mean_with_a_t_half_width():
    mat = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    mean, half = stats.mean_ci(mat)
    assert mean.tolist() == [2.0, 1.0]
    assert half[0] == pytest.approx(stats.t_quantile(2) * 2.0 / np.sqrt(3))
    assert half[1] == 0.0


def test_a_consistent_win_over_ten_seeds_is_significant_with_effect_one():
    a = np.arange(10) + 1.0
    res = stats.paired_wilcoxon(a, a - np.linspace(0.1, 1.0, 10))
    assert res["n"] == 10 and res["effect"] == 1.0
    assert res["p"] == pytest.approx(2 / 2**10)  # exact: only the all-positive sign pattern
    assert res["median_diff"] == pytest.approx(0.55)


def test_a_one_sided_test_halves_p_in_its_direction_only():
    a = np.arange(10) + 1.0
    b = a - np.linspace(0.1, 1.0, 10)
    assert stats.paired_wilcoxon(a, b, "greater")["p"] == pytest.approx(1 / 2**10)
    assert stats.paired_wilcoxon(a, b, "less")["p"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alternative"):
        stats.paired_wilcoxon(a, b, "bigger")


def test_equal_samples_are_not_different_and_nan_pairs_are_dropped():
    res = stats.paired_wilcoxon([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    assert res == {"n": 2, "p": 1.0, "statistic": None, "effect": 0.0, "median_diff": 0.0}
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        stats.paired_wilcoxon([1.0], [1.0, 2.0])


def test_rank_biserial_weighs_differences_by_rank():
    # ranks of |d| = 1, 2, 3: positives 2 + 3, negative 1 -> (5 - 1) / 6
    assert stats.rank_biserial([-0.1, 0.2, 0.3]) == pytest.approx(4 / 6)


def test_holm_adjusts_step_down_and_keeps_order():
    assert stats.holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])


def test_welch_against_a_published_mean():
    rng = np.random.default_rng(0)
    ours = rng.normal(94.0, 0.3, 50)
    res = stats.welch_vs_published(ours, 93.7, 0.36, 500)
    ref = sps.ttest_ind_from_stats(ours.mean(), ours.std(ddof=1), 50, 93.7, 0.36, 500, False)
    assert res["t"] == pytest.approx(ref.statistic) and res["t"] > 0 and res["p"] < 1e-6
    with pytest.raises(ValueError, match="at least 2 runs"):
        stats.welch_vs_published([94.0], 93.7, 0.36, 500)


def test_paired_power_matches_the_textbook_sample_sizes():
    """A paired t-test for an effect of half a standard deviation at alpha 0.05 needs 34 pairs
    two-sided and 27 one-sided for 80 % power (Cohen's tables; G*Power gives the same), and
    the Wilcoxon test 3 / pi times as many; no number of seeds finds a lead that is not there."""
    from nasgym.stats import paired_power, seeds_for_power

    assert seeds_for_power(1.0, 0.5, alternative="two-sided", wilcoxon=False) == 34
    assert seeds_for_power(1.0, 0.5, wilcoxon=False) == 27
    assert seeds_for_power(1.0, 0.5) == math.ceil(27 * math.pi / 3) == 29
    assert paired_power(1.0, 0.5, 33, alternative="two-sided") < 0.8
    assert paired_power(1.0, 0.5, 34, alternative="two-sided") >= 0.8
    # far in the noncentral t's tail scipy gives NaN; the power is still a probability
    assert paired_power(1.0, 0.5, 3126, alternative="two-sided") == pytest.approx(1.0)
    assert paired_power(1.0, 0.0, 20) == pytest.approx(0.05)  # no lead: the test's own alpha
    assert seeds_for_power(1.0, 0.0) is None and seeds_for_power(1.0, -0.2) is None
    with pytest.raises(ValueError, match="diff_sd"):
        paired_power(0.0, 0.5, 10)
    with pytest.raises(ValueError, match="alternative"):
        paired_power(1.0, 0.5, 10, alternative="less")


def test_spread_test_finds_the_smaller_of_two_paired_spreads():
    """Pitman-Morgan on the same seeds: a spread half the other is found, the same one is not;
    the ratio and the correlation are those of the samples."""
    rng = np.random.default_rng(0)
    shared = rng.normal(size=40)
    wide = shared + rng.normal(size=40)
    narrow = 0.5 * wide + 0.1 * rng.normal(size=40)
    res = stats.spread_test(narrow, wide)
    assert res["ratio"] == pytest.approx(narrow.std(ddof=1) / wide.std(ddof=1))
    assert res["ratio"] < 0.6 and res["p"] < 1e-3 and res["n"] == 40
    assert res["corr"] == pytest.approx(np.corrcoef(narrow, wide)[0, 1])
    assert stats.spread_test(wide, narrow)["p"] > 0.99
    other = shared + rng.normal(size=40)  # the same spread, other noise
    assert stats.spread_test(other, wide, alternative="two-sided")["p"] > 0.05
    assert stats.spread_test(wide + 1.0, wide)["p"] == 1.0  # the same spread, exactly
    with pytest.raises(ValueError, match="paired"):
        stats.spread_test([1.0, 2.0], [1.0, 2.0])
