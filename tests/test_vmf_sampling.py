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

from hvae_lib.distributions import GlobalNoise, RunNoise, VonMisesFisher
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


@pytest.mark.parametrize("m", [2, 4, 11, 100])
@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e3])
def test_w_law_matches_scipy_in_training_batches(m, kappa):
    """Batches of up to 1024 draws per run take up to 4 proposals per round after the first (the
    test above draws 4000 at once, one proposal per round): the same KS test, on 4000 draws made
    as 10 runs x 8 batches of 50, one generator per run."""
    torch.manual_seed(m)
    mu = _random_unit(m, seed=m)
    q = VonMisesFisher(mu.expand(10, 50, m), torch.tensor(kappa, dtype=torch.float64))
    noise = RunNoise([torch.Generator().manual_seed(100 * m + r) for r in range(10)])
    z = torch.cat([q.rsample(noise=noise).reshape(-1, m) for _ in range(8)])
    ours = (z - mu).pow(2).sum(-1).numpy() / 2
    ref = scipy.stats.vonmises_fisher(mu.numpy(), kappa).rvs(N_KS, random_state=np.random.default_rng(m))
    assert scipy.stats.ks_2samp(ours, 1 - ref @ mu.numpy()).pvalue > KS_P_MIN


def test_later_rounds_take_several_proposals_in_training_batches(monkeypatch):
    """The multi-proposal rounds are what ends a training batch early: at m = 11 and kappa = 50,
    640 draws over 10 runs take at most 4 rounds in each of 20 batches, and about 6 with one
    proposal per round."""
    later = []
    counts = vmf_module._counts_per_run
    monkeypatch.setattr(vmf_module, "_counts_per_run", lambda *a: later.append(1) or counts(*a))
    q = VonMisesFisher(torch.nn.functional.normalize(torch.randn(10, 64, 11), dim=-1), torch.tensor(50.0))

    def rounds(proposals):
        monkeypatch.setattr(vmf_module, "_LATER_PROPOSALS", proposals)
        noise, per_batch = RunNoise([torch.Generator().manual_seed(r) for r in range(10)]), []
        for _ in range(20):
            later.clear()
            q.rsample(noise=noise)
            per_batch.append(1 + len(later))
        return per_batch

    assert max(rounds(4)) <= 4
    assert np.mean(rounds(1)) > 5


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
        # Storing w in ``dtype`` rounds it (spacing eps/2 just below 1), which can bias the mean
        # by up to eps/4 however many draws are taken: allow that on top of the Monte Carlo error.
        rounding = torch.finfo(dtype).eps / 4
        assert abs(w.mean().item() - a_m) < N_SE * sd_w / n**0.5 + rounding
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("c", [1, 2, 4, 63])
def test_beta_proposal_law(dtype, c):
    """The rejection sampler's proposal (one normal and one Gamma draw) is Beta(c/2, c/2) (KS test
    against scipy), and eps, 1 - eps are both accurate: eps + (1 - eps) = 1 to rounding."""
    torch.manual_seed(c)
    eps, eps_c = vmf_module._beta_proposal(GlobalNoise(), c / 2, [20000], dtype, torch.device("cpu"))
    assert eps.dtype == dtype and eps_c.dtype == dtype
    assert ((eps + eps_c - 1).abs() <= 2 * torch.finfo(dtype).eps).all()
    assert ((eps > 0) & (eps_c > 0)).all()
    assert scipy.stats.kstest(eps.double().numpy(), scipy.stats.beta(c / 2, c / 2).cdf).pvalue > KS_P_MIN


def test_closed_form_m3_is_accurate():
    """1 - w at m = 3 against mpmath (u = 1 - u_c exactly), relative error <= 1e-15, including
    kappa = 0, tiny kappa and kappa where e^(-2 kappa) underflows."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    u_c = torch.cat((torch.rand(200, dtype=torch.float64, generator=torch.Generator().manual_seed(0)),
                     torch.tensor([0.0, 1e-12, 0.5, 1 - 1e-12], dtype=torch.float64)))
    u = 1 - u_c
    for kappa in (0.0, 1e-12, 1e-6, 1e-2, 1.0, 20.0, 400.0, 1e8):
        got = vmf_module._one_minus_w_closed_form_m3(torch.full_like(u, kappa), u, u_c)
        for value, uc in zip(got.tolist(), u_c.tolist()):
            k, uc = mpmath.mpf(kappa), mpmath.mpf(uc)
            ref = 2 * uc if kappa == 0 else -mpmath.log(1 - uc + uc * mpmath.exp(-2 * k)) / k
            assert abs(value - ref) <= 1e-15 * abs(ref) + 1e-300


@pytest.mark.parametrize("m", [2, 3, 6, 41])
def test_run_noise_makes_each_run_independent_of_the_others(m):
    """With one generator per run, run r's sample is the same whether it is drawn alone or beside
    other runs with other concentrations (which reject, and so draw, a different number of times)."""
    torch.manual_seed(0)
    loc = torch.nn.functional.normalize(torch.randn(3, 50, m), dim=-1)
    kappa = torch.tensor([[0.5], [30.0], [3000.0]]).expand(3, 50)
    seeds = [11, 12, 13]
    together = VonMisesFisher(loc, kappa).rsample(noise=RunNoise([torch.Generator().manual_seed(s) for s in seeds]))
    for r, seed in enumerate(seeds):
        alone = VonMisesFisher(loc[r : r + 1], kappa[r : r + 1]).rsample(noise=RunNoise([torch.Generator().manual_seed(seed)]))
        torch.testing.assert_close(together[r : r + 1], alone, rtol=0, atol=0)
    other = VonMisesFisher(loc[:2], kappa[[2, 0]]).rsample(noise=RunNoise([torch.Generator().manual_seed(s) for s in (11, 99)]))
    assert not torch.equal(other[0], together[0])  # the same generator with another kappa draws differently
    with pytest.raises(ValueError, match="batch shape"):
        VonMisesFisher(loc, kappa).rsample((2,), noise=RunNoise([torch.Generator()] * 3))
