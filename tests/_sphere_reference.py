"""mpmath references for the vMF tests (50 significant digits)."""

import functools

import mpmath


@functools.lru_cache(maxsize=None)
def vmf_reference(m, kappa):
    """(A_m, log C_m, KL to the uniform, d KL / d kappa = kappa A_m') at kappa > 0, as floats."""
    with mpmath.workdps(50):
        kappa = mpmath.mpf(kappa)
        v = mpmath.mpf(m) / 2 - 1
        i_v = mpmath.besseli(v, kappa, maxterms=10**6)
        a = mpmath.besseli(v + 1, kappa, maxterms=10**6) / i_v
        log_c = v * mpmath.log(kappa) - (mpmath.mpf(m) / 2) * mpmath.log(2 * mpmath.pi) - mpmath.log(i_v)
        log_area = mpmath.log(2) + (mpmath.mpf(m) / 2) * mpmath.log(mpmath.pi) - mpmath.loggamma(mpmath.mpf(m) / 2)
        kl = kappa * a + log_c + log_area
        dkl = kappa * (1 - a**2 - (m - 1) * a / kappa)
        return float(a), float(log_c), float(kl), float(dkl)
