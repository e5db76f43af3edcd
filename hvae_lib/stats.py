"""Statistics shared by the chapters' tables: Welch's test, multiple-testing correction, bootstrap intervals, power."""

from __future__ import annotations

import numpy as np
from scipy import stats


def holm(p_values) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (Holm 1979), which control the family-wise error rate.

    With the m finite p-values sorted, p_(1) <= ... <= p_(m), the adjusted values are
        p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)),
    returned in the input order; rejecting where p~ < alpha is Holm's procedure at level alpha.
    NaN entries (tests that could not be run) stay NaN and do not count in m.
    """
    p = np.asarray(p_values, dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p-values must lie in [0, 1], got {p[(p < 0) | (p > 1)]}")
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def format_p(p: float) -> str:
    """A p-value for a table: two significant digits, or "n/a" where the test is undefined (NaN)."""
    return "n/a" if np.isnan(p) else f"{p:.2g}"


def welch_p(a, b, alternative: str = "two-sided") -> float:
    r"""Welch's unequal-variance t-test of mean(a) = mean(b), its p-value.

        t = (mean(a) - mean(b)) / sqrt(s_a^2 / n_a + s_b^2 / n_b),
        df = (s_a^2/n_a + s_b^2/n_b)^2 / ((s_a^2/n_a)^2/(n_a - 1) + (s_b^2/n_b)^2/(n_b - 1)),

    with s^2 the unbiased sample variances. NaN where the test is undefined: fewer than two
    values in a group, or both groups constant (t is 0/0 or infinite). The variances are
    computed by numpy, so groups of (nearly) identical values, as short runs give, do not raise
    scipy's precision warning; the p-value is scipy's ``ttest_ind_from_stats``.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2:
        return float("nan")
    # A constant group's sd is exactly 0 (numpy's mean of equal floats can be off by an ulp).
    sd_a, sd_b = (x.std(ddof=1) if np.ptp(x) > 0 else 0.0 for x in (a, b))
    if sd_a == 0 and sd_b == 0:
        return float("nan")
    result = stats.ttest_ind_from_stats(a.mean(), sd_a, len(a), b.mean(), sd_b, len(b), equal_var=False, alternative=alternative)
    return float(result.pvalue)


def paired_t_p(a, b, alternative: str = "two-sided") -> float:
    r"""The paired t-test of mean(a - b) = 0, its p-value: t = mean(d) / (s_d / sqrt(n)) with
    d = a - b, n - 1 degrees of freedom. NaN where the test is undefined: fewer than two pairs,
    or constant differences (s_d = 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a paired test needs one b per a, got shapes {a.shape} and {b.shape}")
    d = a - b
    if len(d) < 2 or np.ptp(d) == 0:
        return float("nan")
    return float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)


def sd_ratio(a, b, level: float = 0.95) -> tuple[float, float, float, float]:
    r"""The ratio of two independent samples' sds, s_a / s_b, its ``level`` interval and the
    two-sided F-test p-value of equal variances, for normal samples:

        F = s_a^2 / s_b^2 ~ F(n_a - 1, n_b - 1) under sigma_a = sigma_b,
        interval  (s_a / s_b) / sqrt(F_{(1+level)/2}),  (s_a / s_b) / sqrt(F_{(1-level)/2}),
        p = 2 min(P(F' <= F), P(F' >= F)), at most 1,

    with F_q the q-quantile of F(n_a - 1, n_b - 1). Returns (ratio, low, high, p); NaN
    throughout with fewer than two values in a sample or a constant ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2 or np.ptp(b) == 0:
        return (float("nan"),) * 4
    df = (len(a) - 1, len(b) - 1)
    ratio = a.std(ddof=1) / b.std(ddof=1)
    f = ratio**2
    low, high = (ratio / np.sqrt(stats.f.ppf(q, *df)) for q in ((1 + level) / 2, (1 - level) / 2))
    p = min(1.0, 2 * min(stats.f.cdf(f, *df), stats.f.sf(f, *df)))
    return float(ratio), float(low), float(high), float(p)


def bootstrap_mean_difference(a, b, paired: bool = False, level: float = 0.95, resamples: int = 10000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of mean(a) - mean(b).

    Unpaired: a and b are resampled separately (each with replacement, its own size); paired:
    the pairs (a_i, b_i) are resampled together, i.e. the differences a_i - b_i. The generator
    is seeded, so the interval is reproducible.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need at least 2 values per group, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired samples must have the same length, got {len(a)} and {len(b)}")
        difference = a - b
        means = difference[rng.integers(0, len(a), (resamples, len(a)))].mean(axis=1)
    else:
        means = a[rng.integers(0, len(a), (resamples, len(a)))].mean(axis=1) - b[rng.integers(0, len(b), (resamples, len(b)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def t_test_power(effect_size: float, n: int, paired: bool = False, alpha: float = 0.05) -> float:
    r"""Power of the two-sided t-test at level ``alpha`` for a standardised effect
    ``effect_size`` = difference / sd with ``n`` runs per group (unpaired, equal sizes, sd the
    common sd) or ``n`` pairs (paired, sd the sd of the differences):

        power = P(|T| > t_{1-alpha/2, df}),   T ~ noncentral t(df, delta),
        unpaired: df = 2n - 2, delta = effect_size sqrt(n/2);  paired: df = n - 1, delta = effect_size sqrt(n).
    """
    if n < 2:
        raise ValueError(f"need n >= 2, got {n}")
    df, delta = (n - 1, effect_size * np.sqrt(n)) if paired else (2 * n - 2, effect_size * np.sqrt(n / 2))
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, delta) + stats.nct.cdf(-critical, df, delta))


def runs_for_power(effect_size: float, paired: bool = False, alpha: float = 0.05, power: float = 0.8, most: int = 100000) -> int | None:
    """The smallest n (runs per group, or pairs) at which ``t_test_power`` reaches ``power``;
    None if not even ``most`` suffice (a zero or vanishing effect)."""
    if not np.isfinite(effect_size) or effect_size == 0:
        return None
    effect = abs(effect_size)
    low, high = 2, 2
    while t_test_power(effect, high, paired, alpha) < power:
        if high >= most:
            return None
        low, high = high, min(most, high * 2)
    while low < high:
        middle = (low + high) // 2
        if t_test_power(effect, middle, paired, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return high
