"""``VonMisesFisher.rsample`` against independent references.

- Law of w = mu.z: two-sample Kolmogorov-Smirnov test against ``scipy.stats.vonmises_fisher``
  (scipy's own sampler), N = 4000 draws each (2000 at m = 1000, where scipy needs ~2 ms a draw),
  p-value > 1e-4 on each of the 30 grid points.
- Mean (N = 20000 draws, 5000 at m = 1000): E[mu.z] = A_m(kappa) (mpmath, 50 digits) within
  5 standard errors of the sample mean, and
  the mean resultant length ||mean z|| within 5 (sd(w) + sqrt(E[1 - w^2])) / sqrt(N) of A_m
  (the second term is the noise floor of the m-1 tangential components).
- Exactness at the poles, termination at kappa = 0 and 1e8, shapes.
"""

import numpy as np
import pytest
import scipy.stats
import torch

from hvae_lib.distributions import VonMisesFisher
from hvae_lib.distributions import von_mises_fisher as vmf_module

from ._sphere_reference import vmf_reference

M_GRID = (2, 3, 4, 10, 100, 1000)
KAPPA_GRID = (1e-3, 1.0, 10.0, 1e3, 1e5)
N_KS = 4000
KS_P_MIN = 1e-4
N_MEAN = 20000
N_SE = 5.0


def _random_unit(m, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, generator=g, dtype=dtype)
    return x / x.norm()


@pytest.mark.parametrize("m", M_GRID)
@pytest.mark.parametrize("kappa", KAPPA_GRID)
def test_w_law_matches_scipy(m, kappa):
    torch.manual_seed(1000 * m + int(np.log10(kappa)) + 3)
    n = N_KS if m < 1000 else N_KS // 2
    mu = _random_unit(m, seed=m)
    z = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64)).sample((n,))
    # 1 - w rather than w: the same test, but resolvable in float64 when kappa = 1e5.
    ours = (z - mu).pow(2).sum(-1).numpy() / 2
    ref = scipy.stats.vonmises_fisher(mu.numpy(), kappa).rvs(n, random_state=np.random.default_rng(m))
    theirs = 1 - ref @ mu.numpy()
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > KS_P_MIN


@pytest.mark.parametrize("m", M_GRID)
@pytest.mark.parametrize("kappa", KAPPA_GRID)
def test_mean_resultant_length(m, kappa):
    torch.manual_seed(7 * m + int(np.log10(kappa)) + 3)
    n = N_MEAN if m < 1000 else N_MEAN // 4
    mu = _random_unit(m, seed=m + 1)
    z = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64)).sample((n,))
    a_m = vmf_reference(m, kappa)[0]
    w = z @ mu
    sd_w = w.std().item()
    assert abs(w.mean().item() - a_m) < N_SE * sd_w / n**0.5
    floor = (1 - w**2).mean().sqrt().item()
    assert abs(z.mean(0).norm().item() - a_m) < N_SE * (sd_w + floor) / n**0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pole", [1.0, -1.0])
@pytest.mark.parametrize("m", [2, 3, 5, 64])
def test_poles_exact(dtype, pole, m):
    """mu = +-e1: the mean of the draws is A_m(kappa) mu (same criteria as above), and at
    kappa = 1e8 every draw lies within 10 sqrt(m / kappa) of mu."""
    torch.manual_seed(m)
    n = 4000
    mu = torch.zeros(m, dtype=dtype)
    mu[0] = pole
    kappas = (1.0, 100.0, 1e8)
    z = VonMisesFisher(mu, torch.tensor(kappas, dtype=dtype)).sample((n,)).double()
    for i, kappa in enumerate(kappas):
        a_m = vmf_reference(m, kappa)[0]
        w = z[:, i] @ mu.double()
        sd_w = max(w.std().item(), 1e-7)  # float32 resolution of w at kappa = 1e8
        assert abs(w.mean().item() - a_m) < N_SE * sd_w / n**0.5
        tangential = z[:, i].mean(0) - w.mean() * mu.double()
        floor = (1 - w**2).mean().sqrt().item()
        assert tangential.norm().item() < N_SE * floor / n**0.5
    assert torch.all((z[:, 2] - mu.double()).norm(dim=-1) < 10 * (m / 1e8) ** 0.5)


@pytest.mark.parametrize("m", [2, 3, 4, 17, 1024, 4096])
def test_rsample_terminates_at_extreme_kappa(m):
    torch.manual_seed(0)
    mu = _random_unit(m, seed=0, dtype=torch.float32)
    z = VonMisesFisher(mu, torch.tensor([0.0, 1e8])).rsample((2000,))
    assert torch.isfinite(z).all()
    # kappa = 0 is uniform: E[w] = 0 with sd 1/sqrt(m).
    assert abs((z[:, 0] @ mu).mean().item()) < N_SE / (m * 2000) ** 0.5


def test_rejection_sampler_bounds_its_rounds(monkeypatch):
    monkeypatch.setattr(vmf_module, "_MAX_ROUNDS", 0)
    q = VonMisesFisher(torch.tensor([0.0, 1.0, 0.0, 0.0]), 5.0)
    with pytest.raises(RuntimeError, match="not accepted after 0 rounds"):
        q.rsample((3,))


def test_shapes_and_broadcasting():
    torch.manual_seed(0)
    m = 6
    loc = torch.nn.functional.normalize(torch.randn(3, 1, m), dim=-1)
    q = VonMisesFisher(loc, torch.rand(4) * 10)
    assert q.batch_shape == (3, 4) and q.event_shape == (m,)
    z = q.rsample((5,))
    assert z.shape == (5, 3, 4, m)
    assert q.log_prob(z).shape == (5, 3, 4)
    assert q.entropy().shape == (3, 4)
    assert q.mean.shape == (3, 4, m)
    z_c, log_correction = q.rsample_with_correction((5,))
    assert z_c.shape == (5, 3, 4, m) and log_correction.shape == (5, 3, 4)
    expanded = q.expand((2, 3, 4))
    assert expanded.rsample().shape == (2, 3, 4, m)
    assert torch.equal(expanded.entropy()[1], q.entropy())
    scalar = VonMisesFisher(loc[0, 0], 1.0)
    assert scalar.batch_shape == () and scalar.sample().shape == (m,)
