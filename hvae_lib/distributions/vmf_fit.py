r"""Fitting a von Mises-Fisher distribution to unit vectors by maximum likelihood.

For unit vectors u_1..u_N on S^(m-1) with mean ubar, the MLE of the mean direction is
ubar / |ubar|, and the MLE of kappa solves A_m(kappa) = R, with R = |ubar| the mean resultant
length and A_m(kappa) = I_(m/2)(kappa) / I_(m/2-1)(kappa). It is found by Newton's method from
Banerjee et al.'s (2005) approximation kappa_0 = R (m - R^2) / (1 - R^2), with
A'(kappa) = 1 - A^2 - (m - 1) A / kappa (Sra 2012), in float64 with the library's exact Bessel
ratio.
"""

from __future__ import annotations

import torch

from hvae_lib.special import bessel_ratio


def banerjee_kappa(m: int, resultant: float) -> float:
    """kappa_0 = R (m - R^2) / (1 - R^2)."""
    return resultant * (m - resultant**2) / (1 - resultant**2)


def fit_von_mises_fisher(u: torch.Tensor, steps: int = 50, tolerance: float = 1e-12) -> tuple[torch.Tensor, float]:
    """(mean direction, kappa) of the vMF MLE for rows ``u`` (N, m); rows are normalised first."""
    if u.dim() != 2 or u.shape[0] < 2 or u.shape[1] < 2:
        raise ValueError(f"need at least 2 vectors of dimension >= 2, got shape {tuple(u.shape)}")
    unit = torch.nn.functional.normalize(u.double(), dim=-1)
    mean = unit.mean(0)
    resultant = float(mean.norm())
    m = unit.shape[1]
    if not 0 < resultant < 1:
        raise ValueError(f"the mean resultant length must be in (0, 1) for a finite kappa, got {resultant}")
    kappa = banerjee_kappa(m, resultant)
    for _ in range(steps):
        a = float(bessel_ratio(m / 2, torch.tensor(kappa, dtype=torch.float64)))
        step = (a - resultant) / (1 - a * a - (m - 1) * a / kappa)
        kappa = max(kappa - step, kappa / 10)
        if abs(step) <= tolerance * kappa:
            break
    return (mean / resultant).to(u.dtype), kappa
