r"""Diagnostics of a set of latent codes (rows of an (N, n) tensor).

- ``pca_spectrum`` and ``participation_ratio`` (sum lambda)^2 / sum lambda^2 of the covariance:
  how many directions the codes really use;
- ``active_units``: coordinates whose variance over the data exceeds 0.01 (Burda et al. 2016);
- ``cosine_moments``: mean and sd over the codes of each cos phi_k (``hvae_lib.coordinates``),
  against 0 and 1/sqrt(n-k+1) under N(0, I) or the uniform on the sphere;
- ``block_average_projection``: the follow-up paper's 3-D view, the means of three blocks of
  coordinates (42 / 42 / 44 at n = 128), each point normalised onto S^2;
- ``nearest_distances``: each query's Euclidean distance to its nearest reference code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hvae_lib.coordinates import hyperspherical_cosines


def pca_spectrum(codes: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of the codes' covariance, largest first, as shares of the total variance."""
    values = torch.linalg.eigvalsh(torch.cov(codes.double().T)).flip(0).clamp(min=0)
    return values / values.sum()


def participation_ratio(codes: torch.Tensor) -> float:
    """(sum lambda)^2 / sum lambda^2: 1 for one direction, n for an isotropic cloud."""
    shares = pca_spectrum(codes)
    return float(1 / shares.square().sum())


def active_units(codes: torch.Tensor, threshold: float = 0.01) -> int:
    """Number of coordinates whose variance over the codes exceeds ``threshold``."""
    return int((codes.double().var(0) > threshold).sum())


def cosine_moments(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean, sd, isotropic sd) of cos phi_k, k = 1..n-1, over the codes; the isotropic sd is
    1/sqrt(n-k+1), the value under N(0, I_n)."""
    cosines = hyperspherical_cosines(codes.double())
    n = codes.shape[1]
    return cosines.mean(0), cosines.std(0), 1 / torch.arange(n, 1, -1, dtype=torch.float64).sqrt()


def block_average_projection(codes: torch.Tensor, blocks: Sequence[int] | None = None) -> torch.Tensor:
    """(N, 3): the mean of each of three consecutive blocks of coordinates, normalised per point
    onto the unit sphere; blocks default to n // 3, n // 3 and the rest (42 / 42 / 44 at 128)."""
    n = codes.shape[1]
    blocks = [n // 3, n // 3, n - 2 * (n // 3)] if blocks is None else list(blocks)
    if len(blocks) != 3 or sum(blocks) != n:
        raise ValueError(f"three blocks summing to n = {n} are needed, got {blocks}")
    means = torch.stack([part.mean(1) for part in codes.split(blocks, dim=1)], dim=1)
    return torch.nn.functional.normalize(means, dim=1)


def nearest_distances(queries: torch.Tensor, references: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Each query's Euclidean distance to its nearest reference."""
    return torch.cat([torch.cdist(part, references).min(1).values for part in queries.split(chunk)])
