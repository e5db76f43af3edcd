"""Fitted samplers, the vMF MLE, spherical caps and the latent diagnostics, against scipy, closed
forms and seeded Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from hvae_lib.coordinates import cap_fraction
from hvae_lib.distributions.vmf_fit import banerjee_kappa, fit_von_mises_fisher
from hvae_lib.evaluation.island import GaussIsland, StandardNormal, VMFIsland
from hvae_lib.evaluation.latent_geometry import (
    active_units,
    block_average_projection,
    cosine_moments,
    nearest_distances,
    participation_ratio,
)
from hvae_lib.special import bessel_ratio


@pytest.mark.parametrize("m, kappa", [(3, 20.0), (4, 1.5), (10, 50.0)])
def test_vmf_fit_matches_scipy(m, kappa):
    mu = np.zeros(m)
    mu[0] = 1
    x = scipy.stats.vonmises_fisher(mu, kappa).rvs(3000, random_state=m)
    direction, ours = fit_von_mises_fisher(torch.tensor(x))
    ref_direction, ref = scipy.stats.vonmises_fisher.fit(x)
    assert ours == pytest.approx(ref, rel=1e-8)
    np.testing.assert_allclose(direction.numpy(), ref_direction, atol=1e-10)


def test_vmf_fit_solves_the_likelihood_equation_where_scipy_fails():
    """At m = 128 scipy's fit returns kappa = 1e-8 (a failed root search); ours solves
    A_m(kappa) = R to 1e-10 and lands within 5% of the true kappa = 300 (2000 draws)."""
    mu = np.zeros(128)
    mu[0] = 1
    x = torch.tensor(scipy.stats.vonmises_fisher(mu, 300.0).rvs(2000, random_state=0))
    _, kappa = fit_von_mises_fisher(x)
    resultant = float(torch.nn.functional.normalize(x, dim=1).mean(0).norm())
    assert float(bessel_ratio(64, torch.tensor(kappa, dtype=torch.float64))) == pytest.approx(resultant, abs=1e-10)
    assert kappa == pytest.approx(300, rel=0.05)
    assert banerjee_kappa(128, resultant) == pytest.approx(kappa, rel=0.05)


def test_vmf_island_reproduces_the_codes_concentration_at_their_mean_norm():
    codes = torch.randn(4000, 32, generator=torch.Generator().manual_seed(0)) + 3 * torch.eye(32)[0]
    island = VMFIsland.fit(codes)
    samples = island.sample(4000, seed=1)
    torch.testing.assert_close(samples.norm(dim=1), torch.full((4000,), float(codes.norm(dim=1).mean())))
    resultant = lambda v: float(torch.nn.functional.normalize(v, dim=1).mean(0).norm())  # noqa: E731
    assert resultant(samples) == pytest.approx(resultant(codes), abs=0.01)


def test_gauss_island_reproduces_mean_and_covariance():
    generator = torch.Generator().manual_seed(2)
    mix = torch.randn(5, 5, generator=generator)
    codes = torch.randn(20_000, 5, generator=generator) @ mix + 1.0
    samples = GaussIsland.fit(codes, project=False).sample(20_000, seed=3)
    torch.testing.assert_close(samples.mean(0), codes.mean(0), atol=0.08, rtol=0)
    torch.testing.assert_close(torch.cov(samples.T), torch.cov(codes.T), atol=0.15, rtol=0.05)
    projected = GaussIsland.fit(codes, project=True).sample(10, seed=3)
    torch.testing.assert_close(projected.norm(dim=1), torch.full((10,), math.sqrt(5)))
    assert StandardNormal(5).sample(7, seed=0).shape == (7, 5)


def test_cap_fraction_closed_form_monte_carlo_and_the_reference_values():
    theta = np.linspace(0, np.pi, 13)
    np.testing.assert_allclose(cap_fraction(3, theta), (1 - np.cos(theta)) / 2, atol=1e-14)
    assert cap_fraction(128, np.pi / 3) == pytest.approx(8.1e-10, rel=0.01)
    assert cap_fraction(128, np.pi / 4) == pytest.approx(3.8e-21, rel=0.01)
    x = torch.nn.functional.normalize(torch.randn(400_000, 10, generator=torch.Generator().manual_seed(4), dtype=torch.float64), dim=1)
    for angle in (0.6, 1.2, 2.0):
        share = float((x[:, 0] >= math.cos(angle)).double().mean())
        assert share == pytest.approx(float(cap_fraction(10, angle)), abs=4 * math.sqrt(share * (1 - share) / 400_000))


def test_effective_dimension_counts_what_the_codes_use():
    generator = torch.Generator().manual_seed(5)
    isotropic = torch.randn(20_000, 16, generator=generator, dtype=torch.float64)
    assert participation_ratio(isotropic) == pytest.approx(16, rel=0.02)
    two = torch.zeros(20_000, 16, dtype=torch.float64)
    two[:, :2] = torch.randn(20_000, 2, generator=generator, dtype=torch.float64)
    assert participation_ratio(two + 1e-3 * isotropic) == pytest.approx(2, rel=0.02)
    assert active_units(two + 0.05 * isotropic) == 2


def test_cosine_moments_of_an_isotropic_cloud_are_the_isotropic_ones():
    codes = torch.randn(50_000, 12, generator=torch.Generator().manual_seed(6))
    mean, sd, isotropic = cosine_moments(codes)
    assert mean.abs().max() < 4 * isotropic.max() / math.sqrt(50_000)
    torch.testing.assert_close(sd, isotropic, rtol=0.02, atol=0)


def test_block_average_projection_and_nearest_distances():
    codes = torch.zeros(2, 128)
    codes[0, :42] = 1.0
    codes[1, 84:] = -2.0
    view = block_average_projection(codes)
    torch.testing.assert_close(view, torch.tensor([[1.0, 0, 0], [0, 0, -1.0]]))
    with pytest.raises(ValueError, match="three blocks"):
        block_average_projection(codes, [40, 40])
    references = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    torch.testing.assert_close(nearest_distances(torch.tensor([[0.0, 1.0], [3.0, 5.0]]), references), torch.tensor([1.0, 1.0]))
