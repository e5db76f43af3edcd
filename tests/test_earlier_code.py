"""The replicas of earlier code's Bessel computations, against mpmath."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from hvae_lib.special.earlier_code import approximate_bessel_ratio, largest_finite_float32_dimension, official_float32_kl

mpmath.mp.dps = 50


def exact_kl(m: int, kappa: float) -> float:
    """KL(vMF(kappa) || uniform) on S^(m-1) in arbitrary precision."""
    v, k = mpmath.mpf(m) / 2, mpmath.mpf(kappa)
    mean_resultant = mpmath.besseli(v, k) / mpmath.besseli(v - 1, k)
    log_normaliser = (v - 1) * mpmath.log(k) - v * mpmath.log(2 * mpmath.pi) - mpmath.log(mpmath.besseli(v - 1, k))
    log_area = mpmath.log(2) + v * mpmath.log(mpmath.pi) - mpmath.loggamma(v)
    return float(k * mean_resultant + log_normaliser + log_area)


@pytest.mark.parametrize("m", [3, 11, 41])
@pytest.mark.parametrize("kappa", [1.7, 10.0, 100.0, 1000.0])
def test_official_float32_kl_is_right_where_its_bessel_values_are_representable(m, kappa):
    assert official_float32_kl(m, kappa) == pytest.approx(exact_kl(m, kappa), rel=2e-4, abs=1e-5)


def test_official_float32_kl_breaks_at_high_dimension_and_low_concentration():
    """ive(63, 1.7) = 3.3e-93 is below float32's smallest subnormal: at m = 128 the KL is not
    finite, though its exact value is."""
    assert math.isfinite(exact_kl(128, 1.7))
    assert not np.isfinite(official_float32_kl(128, 1.7))
    limit = largest_finite_float32_dimension(1.7)
    assert 10 < limit < 128
    assert np.isfinite(official_float32_kl(limit, 1.7)) and not np.isfinite(official_float32_kl(limit + 1, 1.7))


@pytest.mark.parametrize("v", [1.5, 5.5, 20.5, 64.0])
@pytest.mark.parametrize("z", [1.7, 10.0, 100.0, 1000.0])
def test_approximate_bessel_ratio_against_mpmath(v, z):
    """Within 2.5% everywhere tested (the worst case is small v and z), and within 1e-6 of
    the exact ratio at z = 1000."""
    exact = float(mpmath.besseli(v, z) / mpmath.besseli(v - 1, z))
    error = abs(float(approximate_bessel_ratio(v, z)) / exact - 1)
    assert error < (1e-6 if z >= 1000 else 2.5e-2)
