r"""The Bessel computations of earlier code, replicated in numpy to measure their errors.

Nothing in the library uses these; the critique chapter does.

- ``official_float32_kl``: the official code's KL(vMF(mu, kappa) || U(S^(m-1))). Its ``ive``
  calls scipy in the input's dtype (float32 in practice), and

      KL = kappa A + (m/2 - 1) log kappa - (m/2) log 2 pi - kappa - log ive(m/2 - 1, kappa)
           + log(2 pi^(m/2) / Gamma(m/2)),      A = ive(m/2, kappa) / ive(m/2 - 1, kappa),

  where ive(v, k) = I_v(k) e^(-k) underflows to 0 once I_v(k) e^(-k) < 1.4e-45 (small kappa,
  large m): A becomes 0/0 and the log -inf, so the KL is NaN or inf.
- ``approximate_bessel_ratio``: the approximation of I_v(z) / I_(v-1)(z) (the mean of two
  bounds, after arXiv:1902.02603, of the type of Ruiz-Antolin & Segura 2016) that the official
  code added in 2020 and
  the earlier reproduction uses in its KL:

      lambda_a = v + (a - 1)/2,   delta_a = v - 1/2 + lambda_a / (2 sqrt(lambda_a^2 + z^2)),
      B_a = z / (delta_a + sqrt(delta_a^2 + z^2)),   ratio ~ (B_0 + B_2) / 2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def approximate_bessel_ratio(v, z):
    """(B_0 + B_2) / 2, the approximation of I_v(z) / I_(v-1)(z), in float64."""
    v, z = np.asarray(v, dtype=np.float64), np.asarray(z, dtype=np.float64)

    def bound(a: float):
        lam = v + (a - 1.0) / 2.0
        delta = (v - 0.5) + lam / (2 * np.sqrt(lam**2 + z**2))
        return z / (delta + np.sqrt(delta**2 + z**2))

    return (bound(0.0) + bound(2.0)) / 2.0


def official_float32_kl(m: int, kappa):
    """The official code's KL(vMF || uniform) on S^(m-1), with its Bessel functions in float32
    (NaN or inf where they underflow); float64 result of float32 Bessel values."""
    kappa32 = np.asarray(kappa, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = special.ive(np.float32(m / 2), kappa32).astype(np.float64)
        lower = special.ive(np.float32(m / 2 - 1), kappa32).astype(np.float64)
        k = kappa32.astype(np.float64)
        log_area = math.log(2) + (m / 2) * math.log(math.pi) - math.lgamma(m / 2)
        return k * upper / lower + (m / 2 - 1) * np.log(k) - (m / 2) * math.log(2 * math.pi) - k - np.log(lower) + log_area


def largest_finite_float32_dimension(kappa: float, dims: range = range(2, 2049)) -> int | None:
    """The largest m in ``dims`` below which the float32 KL is finite for every m, at
    concentration ``kappa``; None if it is not finite at the first m."""
    finite = None
    for m in dims:
        if not np.isfinite(official_float32_kl(m, kappa)):
            return finite
        finite = m
    return finite
