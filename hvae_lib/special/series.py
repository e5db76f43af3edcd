"""Ascending power series of ``I_v(x)`` for small argument.

DLMF 10.25.2::

    I_v(x) = (x / 2)^v / Gamma(v + 1) * sum_k y^k / (k! (v + 1)_k),    y = x^2 / 4.

All terms are positive, so the sum has no cancellation and only truncation matters. For
``x <= SERIES_MAX_X = 5`` (``y <= 6.25``) and ``v >= 0`` the term ``k = 20`` is below
``6.25^20 / (20!)^2 < 2e-21`` of the sum, so ``NUM_TERMS = 20`` gives float64 accuracy.
"""

from __future__ import annotations

import torch

SERIES_MAX_X = 5.0
NUM_TERMS = 20


def log_iv_series(v: torch.Tensor, x: torch.Tensor, wide: torch.dtype) -> torch.Tensor:
    """``log I_v(x)`` in dtype ``wide`` for ``0 <= x <= SERIES_MAX_X``.

    The sum is taken in the working dtype; the prefactor ``v log(x/2) - lgamma(v + 1)`` is formed
    in ``wide`` because its two terms can cancel. ``x = 0`` gives ``0`` for ``v = 0`` and
    ``-inf`` for ``v > 0``.
    """
    y = x * x / 4
    total = torch.ones_like(x)
    for k in range(NUM_TERMS, 0, -1):
        total = total.mul_(y / (k * (v + k))).add_(1)
    vw = v.to(wide) if torch.is_tensor(v) else torch.full((), v, dtype=wide, device=x.device)
    xw = x.to(wide)
    return torch.xlogy(vw, xw / 2) - torch.lgamma(vw + 1) + torch.log(total).to(wide)
