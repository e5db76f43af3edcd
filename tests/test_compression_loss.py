"""The compression objective against a direct transcription of the authors' formulas (the
reference's "as actually implemented" pseudo-code, with their O(n^2) masked cosines), finite
differences, and torch's own Gaussian KL."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from hvae_lib.models.compression_loss import CompressionLoss, standard_kld


def masked_cos(v, eps=1e-3):
    n = v.shape[-1]
    mask = torch.ones(n, n, dtype=v.dtype).triu()
    return (v / ((v.square().unsqueeze(-2) * mask).sum(-1) + eps).sqrt())[..., :-1]


def authors_loss(mu, logvar, sigma_gain=5e4, c=1.0):
    """One run (batch, n): Phi_mu, R_mu, Phi_sigma, R_sigma and the weighted kl, term by term."""
    n = mu.shape[-1]
    f = lambda x: x**2 - torch.log(x**2) - 1  # noqa: E731
    sd = lambda v: torch.sqrt(torch.var(v, dim=0) + 1e-4)  # noqa: E731  (torch.var is unbiased)
    g = torch.tensor([50 * math.sqrt(n) / math.sqrt(k) for k in range(1, n)], dtype=mu.dtype)
    p = masked_cos(torch.ones(1, n, dtype=mu.dtype))[0]
    std = torch.exp(0.5 * logvar)
    c_mu, c_sigma = masked_cos(mu), masked_cos(std)
    phi_mu = torch.sum(g * f(sd(c_mu) + 1 - p)) + 0.05 * torch.sum(g * (1 - c_mu.mean(0)) ** 2)
    r = mu.norm(dim=1)
    r_mu = 50 * f(sd(r) + 1) + 50 * (r.mean() - math.sqrt(n - 0.5)) ** 2
    phi_sigma = torch.sum(g * f(sd(c_sigma) + 1)) + 0.05 * torch.sum(g * (p - c_sigma.mean(0)) ** 2)
    rs = std.norm(dim=1)
    r_sigma = 50 * f(sd(rs) / math.sqrt(0.5)) + 50 * (rs.mean() - c * math.sqrt(n - 0.5)) ** 2
    return phi_mu, r_mu, phi_sigma, r_sigma, 1000 * phi_mu + 300 * r_mu + sigma_gain * phi_sigma + 500 * r_sigma


@pytest.mark.parametrize("n", [2, 8, 128])
def test_terms_equal_the_authors_formulas_run_by_run(n):
    generator = torch.Generator().manual_seed(n)
    mu = torch.randn(3, 40, n, dtype=torch.float64, generator=generator) * torch.tensor([0.3, 1.0, 3.0], dtype=torch.float64).view(3, 1, 1)
    logvar = torch.randn(3, 40, n, dtype=torch.float64, generator=generator) - 2
    ours = CompressionLoss(sigma_gain=2.25e5, sigma_radius_scale=0.6).terms(mu, logvar)
    for run in range(3):
        expected = authors_loss(mu[run], logvar[run], sigma_gain=2.25e5, c=0.6)
        got = [ours[name][run] for name in ("phi_mu", "r_mu", "phi_sigma", "r_sigma", "total")]
        torch.testing.assert_close(torch.stack(got), torch.stack(expected), rtol=1e-10, atol=1e-9)


def test_the_two_forms_share_value_slope_and_curvature_at_the_optimum():
    x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    for form in ("code", "paper"):
        loss = CompressionLoss(form=form)
        value = loss.penalty(x)
        (slope,) = torch.autograd.grad(value.sum(), x, create_graph=True)
        (curvature,) = torch.autograd.grad(slope.sum(), x)
        assert value.item() == 0 and slope.item() == 0 and curvature.item() == pytest.approx(4)
    grid = torch.linspace(0.2, 3, 50, dtype=torch.float64)
    assert (CompressionLoss().penalty(grid) >= 0).all()


def test_sigma_angles_cost_nothing_when_every_sigma_points_along_the_diagonal():
    """sigma = (1, ..., 1) in every row: C(sigma) = p exactly, batch sd 0 (with sd_eps = 0)."""
    mu = torch.randn(1, 16, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    terms = CompressionLoss(sd_eps=0.0).terms(mu, torch.zeros_like(mu))
    assert terms["phi_sigma"].abs().item() < 1e-20


def test_isotropic_sd_is_the_sd_of_the_cosines_under_the_standard_normal():
    p = CompressionLoss(cos_eps=0.0).isotropic_sd(64, dtype=torch.float64)
    torch.testing.assert_close(p, 1 / torch.arange(64, 1, -1, dtype=torch.float64).sqrt())


def test_gains_and_targets_follow_their_switches():
    n = 5
    forward = CompressionLoss().gains(n, dtype=torch.float64)
    torch.testing.assert_close(forward, 50 * math.sqrt(n) / torch.arange(1, n, dtype=torch.float64).sqrt())
    torch.testing.assert_close(CompressionLoss(gain_order="reversed").gains(n, dtype=torch.float64), forward.flip(0))
    assert (CompressionLoss(gain_order="constant").gains(n) == 50).all()
    target, mask = CompressionLoss(compress="first", compress_last_angle=False).mean_targets(n)
    assert target.tolist() == [1, 0, 0, 0] and mask.tolist() == [1, 1, 1, 0]
    target, _ = CompressionLoss(compress="half").mean_targets(n)
    torch.testing.assert_close(target, CompressionLoss().isotropic_sd(n))


def test_gradients_match_finite_differences():
    generator = torch.Generator().manual_seed(1)
    mu = torch.randn(2, 6, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    logvar = (torch.randn(2, 6, 5, dtype=torch.float64, generator=generator) - 1).requires_grad_()
    for form in ("code", "paper"):
        loss = CompressionLoss(form=form)
        assert torch.autograd.gradcheck(lambda m, v: loss.terms(m, v)["total"], (mu, logvar))


def test_standard_kld_is_torch_kl_averaged_over_dimensions_then_batch():
    generator = torch.Generator().manual_seed(2)
    mu = torch.randn(2, 7, 4, dtype=torch.float64, generator=generator)
    logvar = torch.randn(2, 7, 4, dtype=torch.float64, generator=generator)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(-1).mean(-1)
    torch.testing.assert_close(standard_kld(mu, logvar), expected)


def test_bad_settings_and_shapes_are_refused():
    with pytest.raises(ValueError, match="form"):
        CompressionLoss(form="exact")
    with pytest.raises(ValueError, match="compress"):
        CompressionLoss(compress="all")
    with pytest.raises(ValueError, match="runs, batch >= 2, n"):
        CompressionLoss().terms(torch.zeros(4, 5), torch.zeros(4, 5))


def test_the_masked_transform_gives_the_same_loss():
    generator = torch.Generator().manual_seed(3)
    mu = torch.randn(2, 30, 40, dtype=torch.float64, generator=generator)
    logvar = torch.randn(2, 30, 40, dtype=torch.float64, generator=generator) - 1
    suffix, masked = CompressionLoss().terms(mu, logvar), CompressionLoss(transform="masked").terms(mu, logvar)
    torch.testing.assert_close(masked["total"], suffix["total"], rtol=1e-12, atol=0)
