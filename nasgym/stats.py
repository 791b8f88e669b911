"""Statistics of bench results, on scipy: confidence intervals and significance tests.

- :func:`t_quantile` and :func:`mean_ci`: Student-t confidence intervals of a mean over seeds
  (the bands of the plots);
- :func:`paired_wilcoxon`: two agents run on the same seeds compared with the two-sided Wilcoxon
  signed-rank test, with the matched-pairs rank-biserial correlation as effect size;
- :func:`holm`: Holm's step-down adjustment of a family of p-values;
- :func:`paired_power` and :func:`seeds_for_power`: how likely a paired comparison over ``n``
  seeds is to detect a given lead, and how many seeds it needs (planning a pre-registered test);
- :func:`spread_test`: whether one of two spreads measured on the same seeds is the smaller
  (Pitman-Morgan), e.g. the paired differences of two agents with and without an env option;
- :func:`welch_vs_published`: our runs against a published mean ± std over ``n`` runs (Welch's
  t-test from summary statistics, as for NAS-Bench-201's published rows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ALPHA",
    "holm",
    "mean_ci",
    "paired_power",
    "paired_wilcoxon",
    "rank_biserial",
    "seeds_for_power",
    "spread_test",
    "t_quantile",
    "welch_vs_published",
]

#: significance level of the tests reported in summaries (two-sided)
ALPHA = 0.05


def t_quantile(df: int, level: float = 0.95) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy import stats as sps  # here, not at import: scipy.stats takes seconds to load

    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return float(sps.t.ppf(0.5 + level / 2, df))


def mean_ci(
    values: np.ndarray, axis: int = 0, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of its ``level`` t confidence interval along ``axis`` (half-width 0
    for a single value)."""
    arr = np.asarray(values, dtype=float)
    n = arr.shape[axis]
    mean = arr.mean(axis=axis)
    if n < 2:
        return mean, np.zeros_like(mean)
    half = t_quantile(n - 1, level) * arr.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, half


def rank_biserial(diff: Sequence[float] | np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences ``a - b`` (zeros dropped):
    (sum of ranks of positive differences - sum of negative ones) / total rank sum, in [-1, 1];
    +1 when every ``a`` exceeds its ``b``. 0 when every difference is 0."""
    from scipy import stats as sps  # here, not at import: scipy.stats takes seconds to load

    d = np.asarray(diff, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = sps.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def paired_wilcoxon(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    alternative: str = "two-sided",
) -> dict[str, Any]:
    """Wilcoxon signed-rank test of paired samples ``a`` and ``b`` (same seeds, same order);
    pairs with a NaN are dropped. Two-sided by default; ``alternative="greater"`` (``"less"``)
    tests the one-sided hypothesis, written down beforehand, that ``a`` tends to exceed (fall
    below) ``b``.

    Returns ``n`` (pairs used), ``p`` (None when fewer than one non-zero difference: no test is
    possible; 1.0 when every difference is 0), ``statistic``, ``effect`` (rank-biserial, positive
    when ``a`` tends to exceed ``b``) and ``median_diff`` (median of ``a - b``).
    """
    from scipy import stats as sps  # here, not at import: scipy.stats takes seconds to load

    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(
            f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}"
        )
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples need equal 1-D shapes, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    d = x[ok] - y[ok]
    out: dict[str, Any] = {
        "n": int(d.size),
        "p": None,
        "statistic": None,
        "effect": rank_biserial(d) if d.size else None,
        "median_diff": float(np.median(d)) if d.size else None,
    }
    if d.size == 0:
        return out
    if not np.any(d != 0):
        out["p"] = 1.0
        return out
    res = sps.wilcoxon(d, zero_method="wilcox", alternative=alternative)
    out["p"] = float(res.pvalue)
    out["statistic"] = float(res.statistic)
    return out


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None), in the order given."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    order = sorted(idx, key=lambda i: pvalues[i])  # type: ignore[arg-type,return-value]
    m = len(order)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * float(pvalues[i])))  # type: ignore[arg-type]
        out[i] = running
    return out


def paired_power(
    diff_sd: float, lead: float, n: int, alpha: float = ALPHA, alternative: str = "greater"
) -> float:
    """Power of a paired t-test over ``n`` seeds to detect a mean paired difference ``lead``
    when the differences have standard deviation ``diff_sd`` (noncentral t; ``alternative``
    ``"greater"``, one-sided, or ``"two-sided"``). The Wilcoxon test has about the same power
    with ``3 / pi`` times the seeds under normality (:func:`seeds_for_power`)."""
    from scipy import stats as sps  # here, not at import: scipy.stats takes seconds to load

    if n < 2:
        raise ValueError(f"need at least 2 pairs, got {n}")
    if not diff_sd > 0:
        raise ValueError(f"diff_sd must be positive, got {diff_sd}")
    if alternative not in ("greater", "two-sided"):
        raise ValueError(f"alternative must be 'greater' or 'two-sided', got {alternative!r}")
    df, nc = n - 1, lead / diff_sd * math.sqrt(n)
    tail = alpha if alternative == "greater" else alpha / 2
    crit = float(sps.t.ppf(1.0 - tail, df))
    # scipy's noncentral t gives NaN far in its tails: the normal approximation is exact there
    upper = float(sps.nct.sf(crit, df, nc))
    if not math.isfinite(upper):
        upper = float(sps.norm.sf(crit - nc))
    if alternative == "greater":
        return upper
    lower = float(sps.nct.cdf(-crit, df, nc))
    if not math.isfinite(lower):
        lower = float(sps.norm.cdf(-crit - nc))
    return upper + lower


def seeds_for_power(
    diff_sd: float,
    lead: float,
    power: float = 0.8,
    alpha: float = ALPHA,
    alternative: str = "greater",
    wilcoxon: bool = True,
    most: int = 100_000,
) -> int | None:
    """The fewest paired seeds whose :func:`paired_power` reaches ``power`` for a mean lead
    ``lead`` (differences' standard deviation ``diff_sd``); with ``wilcoxon``, divided by the
    signed-rank test's asymptotic relative efficiency ``3 / pi`` (rounded up). None when even
    ``most`` seeds do not reach it (e.g. ``lead <= 0``)."""
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if paired_power(diff_sd, lead, most, alpha, alternative) < power:
        return None
    lo, hi = 2, most  # bisect: power grows with n for a positive lead
    while lo < hi:
        mid = (lo + hi) // 2
        if paired_power(diff_sd, lead, mid, alpha, alternative) >= power:
            hi = mid
        else:
            lo = mid + 1
    return math.ceil(lo / (3.0 / math.pi)) if wilcoxon else lo


def spread_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, alternative: str = "less"
) -> dict[str, float]:
    """Pitman-Morgan test of two variances measured on the same units (paired values ``a``,
    ``b``, e.g. per seed): ``var(a) < var(b)`` exactly when ``a + b`` and ``a - b`` correlate
    negatively, so the test is Pearson's on those sums and differences (scipy). Returns both
    standard deviations, their ratio ``sd_a / sd_b``, the correlation of ``a`` and ``b`` and the
    p-value (``alternative`` ``"less"``: a's spread is the smaller; or ``"two-sided"``)."""
    from scipy import stats as sps  # here, not at import: scipy.stats takes seconds to load

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError(f"need two paired 1-d samples of at least 3, got {x.shape}, {y.shape}")
    if alternative not in ("less", "two-sided"):
        raise ValueError(f"alternative must be 'less' or 'two-sided', got {alternative!r}")
    sd_a, sd_b = float(x.std(ddof=1)), float(y.std(ddof=1))
    if not (sd_a > 0 and sd_b > 0):
        raise ValueError("both samples must vary")
    total, gap = x + y, x - y
    scale = 1e-9 * (np.ptp(x) + np.ptp(y))
    if np.ptp(total) <= scale or np.ptp(gap) <= scale:  # one is the other shifted or mirrored
        p = 1.0
    else:
        p = float(sps.pearsonr(total, gap, alternative=alternative).pvalue)
    return {
        "sd_a": sd_a,
        "sd_b": sd_b,
        "ratio": sd_a / sd_b,
        "corr": float(np.corrcoef(x, y)[0, 1]),
        "p": p,
        "n": int(x.size),
    }


def welch_vs_published(
    values: Sequence[float] | np.ndarray, mean: float, std: float, n: int
) -> dict[str, float]:
    """Our runs ``values`` against a published ``mean`` ± ``std`` over ``n`` runs: Welch's
    two-sided t-test from summary statistics. ``t`` > 0 when our mean is higher."""
    from scipy import stats as sps  # here, not at import: scipy.stats takes seconds to load

    x = np.asarray(values, dtype=float)
    if x.size < 2 or n < 2:
        raise ValueError(f"need at least 2 runs on each side, got {x.size} and {n}")
    res = sps.ttest_ind_from_stats(
        float(x.mean()), float(x.std(ddof=1)), int(x.size), mean, std, n, equal_var=False
    )
    return {"t": float(res.statistic), "p": float(res.pvalue), "n": int(x.size), "n_published": n}
