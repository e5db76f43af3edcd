"""Log-Bessel functions and Bessel ratios in pure torch, with analytic gradients in ``x``.

- :func:`log_bessel_iv`: ``log I_v(x)``;
- :func:`bessel_ratio`: ``I_v(x) / I_{v-1}(x)``.
"""

from .bessel import bessel_ratio, log_bessel_iv

__all__ = ["bessel_ratio", "log_bessel_iv"]
