r"""Spherical caps: how much of S^(n-1) lies within angle theta of a point.

The fraction of the sphere's area within angle theta <= pi/2 of a pole is

    A(theta) = 1/2 I_(sin^2 theta)((n - 1) / 2, 1/2),

I the regularised incomplete beta function; beyond pi/2 it is 1 - A(pi - theta). At n = 3 this is
(1 - cos theta) / 2. In high dimension it is tiny for any theta < pi/2: at n = 128 it is 8.1e-10
at 60 degrees, so an "island" around one direction holds almost none of the sphere.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc


def cap_fraction(n: int, theta):
    """Share of S^(n-1) within angle ``theta`` (radians, in [0, pi]) of a pole; n >= 2."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    theta = np.asarray(theta, dtype=np.float64)
    if ((theta < 0) | (theta > np.pi)).any():
        raise ValueError("theta must lie in [0, pi]")
    near = np.minimum(theta, np.pi - theta)
    half = 0.5 * betainc((n - 1) / 2, 0.5, np.sin(near) ** 2)
    return np.where(theta <= np.pi / 2, half, 1 - half)
