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

from hvae_lib.special import bessel_ratio, log_bessel_iv

__all__ = ["log_normalised_bessel_iv", "kappa_mean_resultant_derivative", "kl_to_uniform"]

_SERIES_TERMS = 20
_SMALL_KAPPA = 1e-3
_ASYMPTOTIC_TERMS = 12


def _log_normalised_bessel_iv(v, kappa):
    x = kappa**2 / 4
    series = x <= v + 1
    # Series region kappa^2/4 <= v+1: term_k / term_(k-1) = x / (k (v+k)) <= 1/k, so 20 terms
    # leave a relative tail below 1/21! ~ 2e-20 of the first term, and log1p keeps S ~ x/(v+1)
    # accurate however small kappa is (including kappa = 0).
    xs = torch.where(series, x, 0.0)
    term, total = torch.ones_like(xs), torch.zeros_like(xs)
    for k in range(1, _SERIES_TERMS + 1):
        term = term * xs / (k * (v + k))
        total = total + term
    kb = torch.where(series, 2 * math.sqrt(v + 1) + 1, kappa)
    # Outside it S >= ~1, so the log-Bessel form has a small relative error.
    large = log_bessel_iv(v, kb) - v * torch.log(kb / 2) + math.lgamma(v + 1)
    return torch.where(series, torch.log1p(total), large)


class _LogNormalisedBesselIv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kappa, v):
        ctx.save_for_backward(bessel_ratio(v + 1, kappa))
        return _log_normalised_bessel_iv(v, kappa)

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
    kl = torch.where(kappa >= large_threshold, kappa, large_threshold)
    large = torch.zeros_like(kl)
    for k, a_k in enumerate(_asymptotic_coefficients(m)[1:], start=1):
        large = large - k * a_k * kl ** (-k)
    middle = kappa * (1 - ratio) * (1 + ratio) - (m - 1) * ratio
    return torch.where(kappa < _SMALL_KAPPA, small, torch.where(kappa >= large_threshold, large, middle))


class _KLToUniform(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kappa, m):
        ratio = bessel_ratio(m / 2, kappa)
        ctx.m = m
        ctx.save_for_backward(kappa, ratio)
        return kappa * ratio - _log_normalised_bessel_iv(m / 2 - 1, kappa)

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
