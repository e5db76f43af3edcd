r"""The synthetic data of the paper's Figure 1: three von Mises on the circle, lifted to R^100.

Latent points z on S^1 come from an equal mixture of three von Mises-Fisher distributions with
mean angles 0, 2 pi/3 and 4 pi/3 and concentration ``kappa``. A fixed non-linear map lifts them:

    x = tanh(z A + a) B + sigma * noise,   A in R^(2 x 64), a in R^64, B in R^(64 x 100),

with A, a ~ N(0, 1) and B ~ N(0, 1/64) drawn once from ``MAP_SEED``, and noise ~ N(0, I) drawn
per point. The paper does not state its map, means, concentrations or sizes; these are ours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hvae_lib.distributions import VonMisesFisher

MAP_SEED = 2018
X_DIM = 100
HIDDEN = 64
MEAN_ANGLES = (0.0, 2 * math.pi / 3, 4 * math.pi / 3)


@dataclass(frozen=True)
class CircleData:
    """Observations ``x`` (n, 100), their latent points ``z`` (n, 2) and mixture component."""

    x: torch.Tensor
    z: torch.Tensor
    component: torch.Tensor


def circle_map() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed map's parameters (A, a, B), the same on every call."""
    generator = torch.Generator().manual_seed(MAP_SEED)
    a_matrix = torch.randn(2, HIDDEN, generator=generator)
    a_bias = torch.randn(HIDDEN, generator=generator)
    b_matrix = torch.randn(HIDDEN, X_DIM, generator=generator) / math.sqrt(HIDDEN)
    return a_matrix, a_bias, b_matrix


def lift(z: torch.Tensor) -> torch.Tensor:
    """The noiseless map f(z) = tanh(z A + a) B from the circle to R^100."""
    a_matrix, a_bias, b_matrix = circle_map()
    return torch.tanh(z @ a_matrix + a_bias) @ b_matrix


def make_circle_data(n: int, seed: int, kappa: float = 10.0, noise: float = 0.1) -> CircleData:
    """``n`` points of the three-component mixture, lifted and noised; a pure function of ``seed``."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        component = torch.randint(len(MEAN_ANGLES), (n,))
        angles = torch.tensor(MEAN_ANGLES)[component]
        loc = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
        z = VonMisesFisher(loc, torch.full((n,), kappa)).sample()
        x = lift(z) + noise * torch.randn(n, X_DIM)
    return CircleData(x=x, z=z, component=component)
