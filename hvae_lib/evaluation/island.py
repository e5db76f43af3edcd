r"""Samplers fitted to a set of latent codes: the follow-up paper's "island" and its controls.

The paper samples its compressed VAE "from a von Mises-Fisher distribution with the same mean and
covariance as" the encoded test set. A vMF has a mean direction and one concentration, not a
covariance, so two readings are built (the reference's A7):

- ``VMFIsland``: the vMF maximum-likelihood fit to the codes' directions
  (``fit_von_mises_fisher``), sampled and put at radius sqrt(n);
- ``GaussIsland``: a full-covariance Gaussian fitted to the codes, sampled, and optionally
  projected to radius sqrt(n).

Either can be fitted to any model's codes, which is what the decisive control needs: the same
fitted sampler applied to the standard VAE. ``StandardNormal`` is the standard VAE's own prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hvae_lib.distributions import RunNoise, VonMisesFisher
from hvae_lib.distributions.vmf_fit import fit_von_mises_fisher


@dataclass
class VMFIsland:
    """vMF(direction, kappa) on S^(n-1), scaled to ``radius`` (the codes' mean norm: sqrt(n) for
    the compressed VAE's codes, which lie on that sphere)."""

    direction: torch.Tensor
    kappa: float
    radius: float

    @classmethod
    def fit(cls, codes: torch.Tensor) -> VMFIsland:
        direction, kappa = fit_von_mises_fisher(codes)
        return cls(direction.float(), kappa, float(codes.norm(dim=1).mean()))

    def sample(self, count: int, seed: int) -> torch.Tensor:
        noise = RunNoise([torch.Generator().manual_seed(seed)])
        vmf = VonMisesFisher(self.direction.double(), torch.tensor(self.kappa, dtype=torch.float64), validate_args=False)
        return (self.radius * vmf.rsample((count,), noise=noise)).float()


@dataclass
class GaussIsland:
    """N(mean, covariance), projected to radius ``radius`` when it is not None."""

    mean: torch.Tensor
    covariance: torch.Tensor
    radius: float | None

    @classmethod
    def fit(cls, codes: torch.Tensor, project: bool) -> GaussIsland:
        codes = codes.double()
        return cls(codes.mean(0), torch.cov(codes.T), math.sqrt(codes.shape[1]) if project else None)

    def sample(self, count: int, seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        values, vectors = torch.linalg.eigh(self.covariance)
        root = vectors * values.clamp(min=0).sqrt()
        z = self.mean + torch.randn(count, self.mean.shape[0], dtype=torch.float64, generator=generator) @ root.T
        if self.radius is not None:
            z = self.radius * torch.nn.functional.normalize(z, dim=-1)
        return z.float()


@dataclass
class StandardNormal:
    """N(0, I_n), the standard VAE's prior."""

    n: int

    def sample(self, count: int, seed: int) -> torch.Tensor:
        return torch.randn(count, self.n, generator=torch.Generator().manual_seed(seed))
