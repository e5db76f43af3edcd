"""Statistics shared by the chapters' tables: multiple-testing correction."""

from __future__ import annotations

import numpy as np


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
