"""The Householder map and the uniform distribution on the sphere.

- householder_rotation(mu, .) sends e1 to mu exactly (bit for bit at mu = +-e1) and is orthogonal
  (|H^T H - I| <= 8 ulps * m) for mu at the poles, near them (1e-7 away), on mu_1 = 0 and at random;
- HypersphericalUniform: unit-norm draws with E[z] = 0 and E[z z^T] = I/m within 5 standard
  errors, log_prob = -log(2 pi^(m/2) / Gamma(m/2)) (scipy's gamma function), and
  KL(vMF(kappa = 0) || uniform) = 0.
"""

import math

import pytest
import scipy.special
import torch
from torch.distributions import kl_divergence

from hvae_lib.distributions import HypersphericalUniform, VonMisesFisher, householder_rotation


def _locs(m, dtype):
    e1 = torch.eye(m, dtype=dtype)[0]
    near = e1.clone()
    near[1] = 1e-7 if dtype == torch.float64 else 1e-4
    boundary = torch.zeros(m, dtype=dtype)
    boundary[1:] = 1
    rand = torch.randn(m, dtype=dtype, generator=torch.Generator().manual_seed(m))
    locs = torch.stack((e1, -e1, near, -near, boundary, rand))
    return locs / locs.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("m", [2, 3, 7, 512])
def test_householder_sends_e1_to_mu_and_is_orthogonal(dtype, m):
    locs = _locs(m, dtype)
    eye = torch.eye(m, dtype=dtype)
    # Rows of H(mu) applied to the basis: images[k, i] = H(mu_k) e_i.
    images = householder_rotation(locs[:, None, :], eye[None, :, :])
    assert torch.equal(images[:2, 0], locs[:2])
    assert torch.allclose(images[:, 0], locs, rtol=0, atol=4 * torch.finfo(dtype).eps)
    gram = images @ images.transpose(-1, -2)
    assert (gram - eye).abs().max().item() <= 8 * m * torch.finfo(dtype).eps


@pytest.mark.parametrize("m", [1, 2, 3, 10, 300])
def test_uniform(m):
    torch.manual_seed(m)
    n = 100_000
    q = HypersphericalUniform(m, dtype=torch.float64)
    z = q.sample((n,))
    assert z.shape == (n, m)
    assert ((z.norm(dim=-1) - 1).abs() < 1e-14).all()
    assert (z.mean(0).abs() < 5 * z.std(0) / n**0.5).all()
    second = z[:, 0] ** 2
    assert abs(second.mean().item() - 1 / m) <= 5 * second.std().item() / n**0.5 + 1e-15
    log_area = math.log(2 * math.pi ** (m / 2) / scipy.special.gamma(m / 2))
    assert q.log_prob(z[:3]).tolist() == pytest.approx([-log_area] * 3, rel=1e-13)
    assert q.entropy().item() == pytest.approx(log_area, rel=1e-13)


def test_uniform_api():
    q = HypersphericalUniform(5, batch_shape=(2,), dtype=torch.float32)
    assert q.sample((3,)).shape == (3, 2, 5) and q.event_shape == (5,)
    assert q.expand((4, 2)).rsample().shape == (4, 2, 5)
    assert q.log_prob(torch.eye(5)[:1]).shape == (2,)
    assert repr(q) == "HypersphericalUniform(dim=5)"
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="dim"):
            HypersphericalUniform(bad)


@pytest.mark.parametrize("m", [2, 3, 1000])
def test_kl_vmf_uniform_zero_at_kappa_zero(m):
    q = VonMisesFisher(torch.eye(m)[0], torch.zeros(3))
    assert torch.equal(kl_divergence(q, HypersphericalUniform(m, batch_shape=(3,))), torch.zeros(3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("m", [2, 3, 7, 64])
def test_rotate_tangent_sample_is_householder_of_z_prime(dtype, m):
    """The fused end of the samplers equals H(mu) (w; r g_(2..m) / |g_(2..m)|), for one mu shared
    by a batch (broadcast copies), one mu per row, and mu broadcast across a sample dimension."""
    from hvae_lib.distributions.householder import rotate_tangent_sample

    g = torch.Generator().manual_seed(m)
    n = 50
    w = 2 * torch.rand(n, generator=g, dtype=torch.float64) - 1
    first, radius = w.to(dtype), (1 - w * w).sqrt().to(dtype)
    gaussian = torch.randn(n, m, generator=g, dtype=dtype)
    direction = gaussian[:, 1:] / gaussian[:, 1:].norm(dim=-1, keepdim=True)
    z_prime = torch.cat((first[:, None], radius[:, None] * direction), dim=-1)
    tol = 16 * m * torch.finfo(dtype).eps
    locs = _locs(m, dtype)
    for loc in locs:  # one mu, expanded: the matrix-vector path
        fused = rotate_tangent_sample(loc.expand(n, m), first, radius, gaussian)
        assert (fused - householder_rotation(loc, z_prime)).abs().max().item() <= tol
    per_row = locs[torch.arange(n) % len(locs)]  # one mu per row
    fused = rotate_tangent_sample(per_row, first, radius, gaussian)
    assert (fused - householder_rotation(per_row, z_prime)).abs().max().item() <= tol
    shaped = rotate_tangent_sample(locs, first.view(-1, 1)[:48].view(8, 6), radius[:48].view(8, 6), gaussian[:48].view(8, 6, m))
    assert (shaped - householder_rotation(locs, z_prime[:48].view(8, 6, m))).abs().max().item() <= tol
    assert torch.equal(gaussian, gaussian.clone())  # not modified in place
