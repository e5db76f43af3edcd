"""Welch's test against scipy, bootstrap intervals and t-test power against statsmodels and Monte Carlo."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower, TTestPower

from hvae_lib.stats import bootstrap_mean_difference, format_p, paired_t_p, runs_for_power, sd_ratio, t_test_power, welch_p


@pytest.mark.parametrize("effect, n", [(0.3, 10), (1.0, 5), (2.5, 3), (0.8, 40)])
def test_power_matches_statsmodels(effect, n):
    assert t_test_power(effect, n) == pytest.approx(TTestIndPower().power(effect, n, 0.05), abs=1e-6)
    assert t_test_power(effect, n, paired=True) == pytest.approx(TTestPower().power(effect, n, 0.05), abs=1e-6)


@pytest.mark.parametrize("effect", [0.2, 0.5, 1.0, 3.0])
def test_runs_for_power_is_statsmodels_sample_size_rounded_up(effect):
    assert runs_for_power(effect) == max(2, math.ceil(TTestIndPower().solve_power(effect, power=0.8, alpha=0.05)))
    assert runs_for_power(effect, paired=True) == max(2, math.ceil(TTestPower().solve_power(effect, power=0.8, alpha=0.05)))


def test_runs_for_power_of_no_effect_is_none():
    assert runs_for_power(0.0) is None
    assert runs_for_power(float("nan")) is None


def test_bootstrap_interval_covers_the_true_difference_about_95_percent_of_the_time():
    """300 seeded replications of two normal samples of 30 with true difference 1: the 95%
    percentile interval covers 1 in 90-98% of them (the percentile interval runs slightly short
    at this size)."""
    rng = np.random.default_rng(0)
    covered = 0
    for replication in range(300):
        a, b = rng.normal(1.0, 1.0, 30), rng.normal(0.0, 2.0, 30)
        low, high = bootstrap_mean_difference(a, b, resamples=2000, seed=replication)
        covered += low <= 1.0 <= high
    assert 0.90 <= covered / 300 <= 0.98


def test_paired_bootstrap_sees_only_the_differences():
    """b = a - 0.5 + tiny noise: the paired interval is 0.5 +- tiny although a itself spreads
    widely; the unpaired one is wide."""
    rng = np.random.default_rng(1)
    a = rng.normal(0, 10, 12)
    b = a - 0.5 + rng.normal(0, 0.01, 12)
    low, high = bootstrap_mean_difference(a, b, paired=True)
    assert 0.48 < low < 0.5 < high < 0.52
    low, high = bootstrap_mean_difference(a, b)
    assert high - low > 5


def test_bootstrap_refuses_too_few_values_or_unequal_pairs():
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_mean_difference([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        bootstrap_mean_difference([1.0, 2.0, 3.0], [1.0, 2.0], paired=True)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_welch_p_matches_scipy_ttest_ind(alternative):
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.3, 1.0, 7), rng.normal(0.0, 2.5, 5)
    expected = stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue
    assert welch_p(a, b, alternative) == pytest.approx(expected, rel=1e-12)


def test_welch_p_is_nan_where_the_test_is_undefined_and_quiet_on_identical_values():
    assert np.isnan(welch_p([1.0], [2.0, 3.0]))
    assert np.isnan(welch_p([0.1, 0.1, 0.1], [0.1, 0.1]))
    assert np.isnan(welch_p([0.1, 0.1], [0.2, 0.2]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = welch_p([0.1, 0.1, 0.1], [0.1, 0.2, 0.3])
    # One constant group: the standard error is the other's alone, t = -0.1 / (0.1 / sqrt(3)), df = 2.
    assert p == pytest.approx(2 * stats.t.cdf(-np.sqrt(3), 2), rel=1e-12)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_paired_t_p_matches_scipy_ttest_rel(alternative):
    rng = np.random.default_rng(4)
    a = rng.normal(0.0, 1.0, 6)
    b = a + rng.normal(0.2, 0.3, 6)
    assert paired_t_p(a, b, alternative) == pytest.approx(stats.ttest_rel(a, b, alternative=alternative).pvalue, rel=1e-12)


def test_paired_t_p_is_nan_where_undefined_and_refuses_unpaired_input():
    assert np.isnan(paired_t_p([1.0], [2.0]))
    assert np.isnan(paired_t_p([1.0, 2.0, 3.0], [0.5, 1.5, 2.5]))  # constant differences
    with pytest.raises(ValueError, match="paired"):
        paired_t_p([1.0, 2.0], [1.0, 2.0, 3.0])


def test_format_p_writes_an_undefined_test_as_na():
    assert format_p(float("nan")) == "n/a"
    assert format_p(0.031234) == "0.031"
    assert format_p(1.0) == "1"


def test_sd_ratio_interval_covers_the_true_ratio_and_the_test_keeps_its_size():
    """Monte Carlo, fixed seed: normal samples of 10 and 12 with true sd ratio 2; the 95% interval
    covers 2 in 95% of 4000 trials, and the F test rejects equal sds in 5% of trials where they
    are equal (the first sample halved, or a fresh one of sd 1), all within 3.3 standard
    errors (0.012)."""
    rng = np.random.default_rng(0)
    trials = 4000
    covered = rejected = rejected_equal = 0
    for _ in range(trials):
        a, b = rng.normal(0, 2, 10), rng.normal(5, 1, 12)
        ratio, low, high, _ = sd_ratio(a, b)
        covered += low <= 2 <= high
        assert low < ratio < high
        rejected += sd_ratio(a / 2, b)[3] < 0.05
        rejected_equal += sd_ratio(rng.normal(0, 1, 10), b)[3] < 0.05
    assert abs(covered / trials - 0.95) < 0.012
    assert abs(rejected / trials - 0.05) < 0.012
    assert abs(rejected_equal / trials - 0.05) < 0.012


def test_sd_ratio_detects_a_large_ratio_and_is_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 10), rng.normal(0, 4, 10)
    ratio, low, high, p = sd_ratio(a, b)
    assert p < 0.01 and high < 1
    inverse = sd_ratio(b, a)
    assert inverse[0] == pytest.approx(1 / ratio) and inverse[1] == pytest.approx(1 / high) and inverse[3] == pytest.approx(p)


def test_sd_ratio_is_nan_where_undefined():
    assert all(math.isnan(v) for v in sd_ratio([1.0], [1.0, 2.0]))
    assert all(math.isnan(v) for v in sd_ratio([1.0, 2.0], [3.0, 3.0]))
