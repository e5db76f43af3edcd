"""``PowerSpherical`` against the ``power_spherical`` package (De Cao's reference implementation)
and against the Beta law of its marginal.

- log_prob, entropy, KL to the uniform, mean: the package in float64, relative error <= 1e-5
  (KL: plus 1e-12 absolute);
- t = mu.z: (1 + t)/2 ~ Beta((m-1)/2 + kappa, (m-1)/2), one-sample KS test (scipy), p > 1e-4,
  N = 4000, and the mean of 1 - t = 2 beta / (alpha + beta) within 5 standard errors, which at
  kappa = 1e8 in float32 is only possible when 1 - t is carried separately;
- d/dkappa E[t] = (m-1)/(kappa + m - 1)^2 within 5 standard errors (reparameterised gradient).
"""

import numpy as np
import power_spherical
import pytest
import scipy.stats
import torch
from torch.distributions import kl_divergence

from hvae_lib.distributions import HypersphericalUniform, PowerSpherical, log_sphere_area, uniform_direction

RTOL = 1e-5
N_SE = 5.0


def _unit(x):
    return x / x.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("m", [2, 3, 5, 10, 100, 1000])
@pytest.mark.parametrize("kappa", [1e-3, 1.0, 10.0, 1e3])
def test_matches_power_spherical_package(m, kappa):
    torch.manual_seed(m)
    mu = _unit(torch.randn(m, dtype=torch.float64))
    kappa_t = torch.tensor(kappa, dtype=torch.float64)
    ours = PowerSpherical(mu, kappa_t)
    theirs = power_spherical.PowerSpherical(mu, kappa_t)
    z = torch.cat((ours.sample((16,)), uniform_direction((16,), m, torch.float64)))
    np.testing.assert_allclose(ours.log_prob(z).numpy(), theirs.log_prob(z).numpy(), rtol=RTOL)
    assert ours.entropy().item() == pytest.approx(theirs.entropy().item(), rel=RTOL)
    kl_ours = kl_divergence(ours, HypersphericalUniform(m, dtype=torch.float64))
    # The package's own KL is -H + H(uniform) with H(uniform) evaluated in float32 (its ``dim`` is an
    # integer tensor, so dim/2 is float32): ~1e-7 absolute error, 2% at kappa = 1e-3. The reference
    # is therefore its entropy with the log-area of the sphere in float64.
    kl_theirs = log_sphere_area(m) - theirs.entropy()
    # At small kappa the KL (5e-9 at m = 100, kappa = 1e-3) is a difference of O(m) terms in both
    # implementations: an absolute 1e-12 on top of the relative 1e-5.
    assert kl_ours.item() == pytest.approx(kl_theirs.item(), rel=RTOL, abs=1e-12)
    np.testing.assert_allclose(ours.mean.numpy(), theirs.mean.numpy(), rtol=RTOL)


@pytest.mark.parametrize("m", [2, 3, 10, 100])
@pytest.mark.parametrize("kappa", [0.0, 1.0, 10.0, 1e3])
def test_marginal_is_beta(m, kappa):
    torch.manual_seed(m + int(kappa))
    n = 4000
    mu = _unit(torch.randn(m, dtype=torch.float64))
    z = PowerSpherical(mu, torch.tensor(kappa, dtype=torch.float64)).sample((n,))
    # (1 - t)/2 = |z - mu|^2 / 4 ~ Beta(beta, alpha), resolved in float64 even when kappa = 1e3.
    one_minus_b = ((z - mu).pow(2).sum(-1) / 4).numpy()
    alpha, beta = (m - 1) / 2 + kappa, (m - 1) / 2
    assert scipy.stats.kstest(one_minus_b, scipy.stats.beta(beta, alpha).cdf).pvalue > 1e-4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("m", [2, 16, 4096])
@pytest.mark.parametrize("kappa", [0.0, 1e-6, 1.0, 1e4, 1e8])
def test_extreme_parameters(dtype, m, kappa):
    torch.manual_seed(0)
    n = 256
    p = torch.zeros(m, dtype=dtype)
    p[0] = -1.0
    p = torch.stack((p, -p, torch.randn(m, dtype=dtype))).requires_grad_()
    kappa_t = torch.tensor(kappa, dtype=dtype, requires_grad=True)
    q = PowerSpherical(p / p.norm(dim=-1, keepdim=True), kappa_t, validate_args=True)
    z = q.rsample((n,))
    assert torch.isfinite(z).all() and ((z.norm(dim=-1) - 1).abs() < 1e-5).all()
    log_prob = q.log_prob(z)
    kl = kl_divergence(q, HypersphericalUniform(m, dtype=dtype))
    assert torch.isfinite(log_prob).all() and torch.isfinite(kl).all()
    (z[..., 0].sum() + kl.sum()).backward()
    assert torch.isfinite(p.grad).all() and torch.isfinite(kappa_t.grad)
    # E[1 - t] = 2 beta / (alpha + beta), from 1 - t = |z - mu|^2 / 2.
    one_minus_t = (z.double() - q.loc.double()).pow(2).sum(-1) / 2
    expected = (m - 1) / (kappa + m - 1)
    se = one_minus_t.std(0) / n**0.5
    assert torch.all((one_minus_t.mean(0) - expected).abs() < N_SE * se + 1e-3 * expected)


def test_kappa_gradient_is_unbiased():
    torch.manual_seed(0)
    m, kappa, n = 5, 3.0, 100_000
    kappa_t = torch.full((n,), kappa, dtype=torch.float64, requires_grad=True)
    mu = torch.eye(m, dtype=torch.float64)[2]
    z = PowerSpherical(mu, kappa_t).rsample()
    (g,) = torch.autograd.grad((z @ mu).sum(), kappa_t)
    truth = (m - 1) / (kappa + m - 1) ** 2
    assert abs(g.mean().item() - truth) < N_SE * g.std().item() / n**0.5


def test_log_prob_at_the_antipode_and_kappa_zero():
    mu = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    q = PowerSpherical(mu, torch.tensor([0.0, 2.0], dtype=torch.float64))
    log_prob = q.log_prob(-mu)
    assert log_prob[0].item() == pytest.approx(-np.log(4 * np.pi), rel=1e-14)
    assert log_prob[1].item() == -np.inf


def test_shapes_validation_and_dimension_check():
    loc = _unit(torch.randn(3, 1, 4))
    q = PowerSpherical(loc, torch.rand(4) + 0.5)
    assert q.rsample((5,)).shape == (5, 3, 4, 4)
    assert q.log_prob(q.sample((5,))).shape == (5, 3, 4)
    assert q.expand((2, 3, 4)).entropy().shape == (2, 3, 4)
    with pytest.raises(ValueError, match="loc"):
        PowerSpherical(torch.tensor([1.0, 1.0]), 1.0, validate_args=True)
    with pytest.raises(ValueError, match="concentration"):
        PowerSpherical(torch.tensor([1.0, 0.0]), -1.0, validate_args=True)
    with pytest.raises(ValueError, match="dim=3"):
        kl_divergence(q, HypersphericalUniform(3))
