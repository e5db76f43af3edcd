r"""The special functions of the vMF family in m dimensions, with exact gradients.

With v = m/2 - 1, the vMF normaliser is
    C_m(kappa) = kappa^v / ((2 pi)^(m/2) I_v(kappa)),
    log C_m(kappa) = -log |S^(m-1)| - S_v(kappa),
    S_v(kappa) = log( Gamma(v+1) (2/kappa)^v I_v(kappa) ) = log 0F1(; v+1; kappa^2/4) >= 0,
so S_v(0) = 0 and log C_m(0) is minus the log-area of the sphere (the uniform density), and
dS_v/dkappa = I_(v+1)(kappa)/I_v(kappa) = A_m(kappa), the mean resultant length. Everything is
computed in float64 (the callers cast back): log C_m(kappa) + kappa = -log|S^(m-1)| + (kappa - S_v)
is then accurate to ~1e-8 at kappa = 1e8, where float32 could not even represent kappa + O(1).
"""

import math

import torch

from hvae_lib.special.bessel import log_bessel_iv_and_ratio

__all__ = ["log_normalised_bessel_iv", "kappa_mean_resultant_derivative", "kl_to_uniform"]

_SERIES_TERMS = 20
_SERIES_MAX_X = 6.25  # kappa <= 5
_SMALL_KAPPA = 1e-3
_ASYMPTOTIC_TERMS = 12


def _log_normalised_bessel_iv_and_ratio(v, kappa):
    """(S_v(kappa), I_(v+1)(kappa) / I_v(kappa)), float64, no autograd graph.

    Both come from one evaluation of log I_v and R_(v+1) (``log_bessel_iv_and_ratio``: one Debye
    expansion and one recurrence), and S_v from the series below where that is used.
    """
    x = kappa**2 / 4
    series = x <= max(v + 1, _SERIES_MAX_X)
    # Series region kappa^2/4 <= max(v+1, 6.25): term_k / term_(k-1) = x / (k (v+k)), so 20 terms
    # leave a relative tail below 1/21! ~ 2e-20 (x <= v+1) or 6.25^20 / (20!)^2 < 2e-21 (x <= 6.25)
    # of the first term, and log1p keeps S ~ x/(v+1) accurate however small kappa is (including
    # kappa = 0). (kappa <= 5 would otherwise take the log-Bessel form below, where S < 1 for
    # small v and the cancellation in log I_v - v log(kappa/2) costs digits.)
    xs = torch.where(series, x, 0.0)
    total = torch.zeros_like(xs)
    for k in range(_SERIES_TERMS, 0, -1):  # Horner: sum_k prod_(j<=k) xs / (j (v+j))
        total = total.add_(1).mul_(xs).mul_(1 / (k * (v + k)))
    log_iv, ratio = log_bessel_iv_and_ratio(v, kappa)
    # Outside it S >= ~1, so the log-Bessel form has a small relative error.
    large = log_iv - v * torch.log(kappa / 2) + math.lgamma(v + 1)
    return torch.where(series, torch.log1p(total), large), ratio


class _LogNormalisedBesselIv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kappa, v):
        log_normalised, ratio = _log_normalised_bessel_iv_and_ratio(v, kappa)
        ctx.save_for_backward(ratio)
        return log_normalised

    @staticmethod
    def backward(ctx, grad):
        (ratio,) = ctx.saved_tensors
        return grad * ratio, None


def log_normalised_bessel_iv(v, kappa):
    r"""S_v(kappa) = log( Gamma(v+1) (2/kappa)^v I_v(kappa) ), with dS/dkappa = I_(v+1)/I_v exactly.

    Args:
        v (float): the order, >= 0.
        kappa (Tensor): float64, >= 0.
    """
    return _LogNormalisedBesselIv.apply(kappa, v)


def _asymptotic_coefficients(m):
    # A_m(kappa) ~ sum_k a_k kappa^(-k) solves the Riccati equation A' = 1 - A^2 - (m-1) A / kappa:
    # a_0 = 1 and 2 a_k + sum_(i=1)^(k-1) a_i a_(k-i) = (k - 1 - (m-1)) a_(k-1).
    a = [1.0]
    for k in range(1, _ASYMPTOTIC_TERMS + 1):
        a.append(((k - m) * a[k - 1] - sum(a[i] * a[k - i] for i in range(1, k))) / 2)
    return a


def kappa_mean_resultant_derivative(m, kappa, ratio):
    r"""kappa A_m'(kappa), with A_m' = 1 - A_m^2 - (m-1) A_m / kappa, accurate for every kappa >= 0.

    The closed form cancels at both ends, so it is replaced there by expansions:
    - kappa < 1e-3: A_m = kappa/m - kappa^3/(m^2 (m+2)) + O(kappa^5), so
      kappa A' = kappa/m - 3 kappa^3/(m^2 (m+2));
    - kappa >= max(30 m, 100): the large-kappa series of A_m (12 terms, see
      ``_asymptotic_coefficients``), kappa A' = -sum_k k a_k kappa^(-k) ~ (m-1)/(2 kappa); checked
      against mpmath to ~1e-16 relative from that threshold up;
    - in between: kappa (1 - A)(1 + A) - (m-1) A, relative error below ~1e-9.

    Args:
        m (int): the ambient dimension.
        kappa (Tensor): float64, >= 0.
        ratio (Tensor): A_m(kappa) = I_(m/2)(kappa) / I_(m/2-1)(kappa).
    """
    small = kappa * (1 / m - 3 * kappa**2 / (m**2 * (m + 2)))
    large_threshold = max(30.0 * m, 100.0)
    inverse = 1 / torch.where(kappa >= large_threshold, kappa, large_threshold)
    coefficients = _asymptotic_coefficients(m)
    large = torch.full_like(inverse, -_ASYMPTOTIC_TERMS * coefficients[-1])
    for k in range(_ASYMPTOTIC_TERMS - 1, 0, -1):  # Horner in 1/kappa
        large = large.mul_(inverse).sub_(k * coefficients[k])
    large = large.mul_(inverse)
    middle = kappa * (1 - ratio) * (1 + ratio) - (m - 1) * ratio
    return torch.where(kappa < _SMALL_KAPPA, small, torch.where(kappa >= large_threshold, large, middle))


class _KLToUniform(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kappa, m):
        log_normalised, ratio = _log_normalised_bessel_iv_and_ratio(m / 2 - 1, kappa)  # A_m = R_(m/2)
        ctx.m = m
        ctx.save_for_backward(kappa, ratio)
        return kappa * ratio - log_normalised

    @staticmethod
    def backward(ctx, grad):
        kappa, ratio = ctx.saved_tensors
        return grad * kappa_mean_resultant_derivative(ctx.m, kappa, ratio), None


def kl_to_uniform(m, kappa):
    r"""KL( vMF(mu, kappa) || U(S^(m-1)) ) = kappa A_m(kappa) + log C_m(kappa) + log|S^(m-1)|
    = kappa A_m(kappa) - S_(m/2-1)(kappa), independent of mu.

    Its derivative is d/dkappa KL = kappa A_m'(kappa), returned exactly by the backward pass. For
    small kappa, KL = kappa^2/(2m) + O(kappa^4); for large kappa, KL ~ (m-1)/2 log(kappa) + const.

    Args:
        m (int): the ambient dimension.
        kappa (Tensor): float64, >= 0.
    """
    return _KLToUniform.apply(kappa, m)
