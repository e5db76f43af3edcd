r"""The Frechet distance between two feature sets, and FID in a given feature space.

For Gaussians fitted to features a and b (means m_a, m_b, covariances S_a, S_b),

    d^2 = |m_a - m_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

with tr (S_a S_b)^(1/2) computed as the sum of square roots of the eigenvalues of the symmetric
matrix S_a^(1/2) S_b S_a^(1/2) (same spectrum as S_a S_b), in float64. Covariances are unbiased,
as torchmetrics' and pytorch-fid's are.
"""

from __future__ import annotations

import torch


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """d^2 between Gaussians fitted to the rows of ``a`` (N, k) and ``b`` (M, k)."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (N, k) and (M, k), got {tuple(a.shape)} and {tuple(b.shape)}")
    if min(a.shape[0], b.shape[0]) < 2:
        raise ValueError("each feature set needs at least 2 rows")
    a, b = a.double(), b.double()
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("features contain NaN or infinite values")
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


@torch.no_grad()
def features(network, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``network.features`` of flat images, in batches."""
    return torch.cat([network.features(images[i : i + batch_size]) for i in range(0, images.shape[0], batch_size)])


def fid(network, images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """The Frechet distance between the two image sets' features under ``network``."""
    return frechet_distance(features(network, images_a), features(network, images_b))
