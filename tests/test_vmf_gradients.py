"""Gradients through ``VonMisesFisher`` samplers: unbiasedness and the float32 stress grid.

Unbiasedness: with f(z) = mu.z, d/dkappa E[f] = A_m'(kappa) (mpmath). The Lemma-2 estimator
g_rep + g_cor from ``rsample_with_correction`` must match it within 5 standard errors of its
mean over N = 2e5 draws (m = 5, kappa = 2; the same for m = 3, where the sampler has no rejection
and g_rep alone is exact). g_rep alone at m = 5 is printed with its bias in standard errors.
"""

import math

import pytest
import torch
from torch.distributions import kl_divergence

from hvae_lib.distributions import HypersphericalUniform, VonMisesFisher

from ._sphere_reference import vmf_reference

N_SE = 5.0


def _per_sample_gradients(m, kappa, n, seed):
    torch.manual_seed(seed)
    kappa_t = torch.full((n,), kappa, dtype=torch.float64, requires_grad=True)
    mu = torch.eye(m, dtype=torch.float64)[0]
    z, log_correction = VonMisesFisher(mu, kappa_t).rsample_with_correction()
    f = z @ mu
    (g_rep,) = torch.autograd.grad(f.sum(), kappa_t, retain_graph=True)
    if not log_correction.requires_grad:  # m = 3: no rejection, log_correction is a constant 0
        return g_rep, torch.zeros_like(g_rep)
    (g_cor,) = torch.autograd.grad((f.detach() * log_correction).sum(), kappa_t)
    return g_rep, g_cor


def _dA(m, kappa):
    _, _, _, kappa_da = vmf_reference(m, kappa)
    return kappa_da / kappa


@pytest.mark.parametrize("m", [5, 3])
def test_full_gradient_is_unbiased(m):
    kappa, n = 2.0, 200_000
    g_rep, g_cor = _per_sample_gradients(m, kappa, n, seed=m)
    g = g_rep + g_cor
    truth = _dA(m, kappa)
    se = g.std().item() / n**0.5
    assert abs(g.mean().item() - truth) < N_SE * se
    se_rep = g_rep.std().item() / n**0.5
    print(
        f"m={m} kappa={kappa}: dA/dkappa={truth:.5f}, g_rep+g_cor={g.mean():.5f} (se {se:.1e}), "
        f"g_rep alone={g_rep.mean():.5f} (bias {g_rep.mean() - truth:+.5f} = {(g_rep.mean() - truth) / se_rep:+.1f} se)"
    )
    if m == 3:
        assert torch.all(g_cor == 0)


def test_full_gradient_surrogate_recipe():
    """The surrogate of the docstring has the value of f and the gradient g_rep + g_cor."""
    torch.manual_seed(0)
    kappa = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    mu = torch.eye(5, dtype=torch.float64)[0]
    z, log_correction = VonMisesFisher(mu, kappa).rsample_with_correction((1000,))
    f = z @ mu
    surrogate = f + f.detach() * (log_correction - log_correction.detach())
    assert torch.equal(surrogate.detach(), f.detach())
    (g,) = torch.autograd.grad(surrogate.mean(), kappa, retain_graph=True)
    (g_rep,) = torch.autograd.grad(f.mean(), kappa, retain_graph=True)
    (g_cor,) = torch.autograd.grad((f.detach() * log_correction).mean(), kappa)
    assert torch.allclose(g, g_rep + g_cor, rtol=1e-12, atol=0)


@pytest.mark.parametrize("m", [2, 5, 100])
@pytest.mark.parametrize("kappa", [0.5, 10.0, 1e4])
def test_log_correction_value_is_the_normalised_log_ratio(m, kappa):
    """log_correction = log(g / r) = log(a(w) / P(accept)), a the acceptance probability. Checked
    with Wood's (1994) original form of the test, x0 = (1-b)/(1+b), c = kappa x0 + (m-1) log(1-x0^2),
    log a(w) = min(0, kappa w + (m-1) log(1 - x0 w) - c): log_correction - log a(w) is the same for
    every draw (to 1e-10) and equals -log P(accept), P estimated from 2e5 fresh Beta proposals
    (5 standard errors)."""
    torch.manual_seed(m)
    n = 20_000
    mu = torch.eye(m, dtype=torch.float64)[-1]
    q = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64))
    z, log_correction = q.rsample_with_correction((n,))
    b = (m - 1) / (2 * kappa + (4 * kappa**2 + (m - 1) ** 2) ** 0.5)
    x0 = (1 - b) / (1 + b)
    c = kappa * x0 + (m - 1) * math.log(1 - x0**2)

    def log_accept(w):
        return (kappa * w + (m - 1) * torch.log(1 - x0 * w) - c).clamp(max=0)

    offset = log_correction - log_accept(1 - (z - mu).pow(2).sum(-1) / 2)
    assert offset.std().item() <= 1e-10 * max(1.0, offset.abs().mean().item())
    half = torch.tensor((m - 1) / 2, dtype=torch.float64)
    eps = torch.distributions.Beta(half, half).sample((200_000,))
    a = log_accept((1 - (1 + b) * eps) / (1 - (1 - b) * eps)).exp()
    assert abs(math.exp(-offset.mean().item()) - a.mean().item()) < N_SE * a.std().item() / 200_000**0.5


def test_loc_gradient_is_unbiased():
    """d/dp E[c.z] for mu = p/|p| equals A_m(kappa) (I - mu mu^T) c / |p| (E[z] = A_m mu)."""
    torch.manual_seed(0)
    m, kappa, n = 5, 2.0, 100_000
    p = torch.tensor([0.3, -1.0, 0.5, 0.2, 0.7], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.0, 2.0, -1.0, 0.5, 0.0], dtype=torch.float64)
    mu = p / p.norm()
    z = VonMisesFisher(mu.expand(n, m), torch.tensor(kappa, dtype=torch.float64)).rsample()
    (g,) = torch.autograd.grad((z @ c).mean(), p)
    a_m = vmf_reference(m, kappa)[0]
    mu_d = mu.detach()
    truth = a_m * (c - (c @ mu_d) * mu_d) / p.detach().norm()
    # Standard error of g, the mean over n draws, from the spread of 20 means over n/20 draws.
    batches = []
    for _ in range(20):
        zb = VonMisesFisher((p / p.norm()).expand(n // 20, m), torch.tensor(kappa, dtype=torch.float64)).rsample()
        batches.append(torch.autograd.grad((zb @ c).mean(), p)[0])
    se = torch.stack(batches).std(0) / 20**0.5
    assert torch.all((g - truth).abs() < N_SE * se + 1e-12)


M_STRESS = (2, 3, 5, 16, 129, 1024, 4096)
KAPPA_STRESS = (0.0, 1e-6, 1e-2, 1.0, 1e2, 1e4, 1e6, 1e8)


@pytest.mark.parametrize("m", M_STRESS)
@pytest.mark.parametrize("where", ["+e1", "-e1", "random"])
def test_float32_stress_grid(m, where):
    torch.manual_seed(m)
    if where == "random":
        p = torch.randn(m)
    else:
        p = torch.zeros(m)
        p[0] = 1.0 if where == "+e1" else -1.0
    p = p.expand(len(KAPPA_STRESS), m).clone().requires_grad_()
    kappa = torch.tensor(KAPPA_STRESS, requires_grad=True)
    mu = p / p.norm(dim=-1, keepdim=True)
    q = VonMisesFisher(mu, kappa, validate_args=True)
    z, log_correction = q.rsample_with_correction((64,))
    assert z.dtype == torch.float32 and torch.isfinite(z).all() and torch.isfinite(log_correction).all()
    assert ((z.norm(dim=-1) - 1).abs() < 1e-5).all()
    log_prob = q.log_prob(z)
    kl = kl_divergence(q, HypersphericalUniform(m))
    assert torch.isfinite(log_prob).all() and torch.isfinite(kl).all() and torch.isfinite(q.entropy()).all()
    target = torch.linspace(-1, 1, m)
    f = (z @ target) ** 2 + z[..., 0]
    loss = (f + f.detach() * log_correction).mean() + kl.sum()
    loss.backward()
    assert torch.isfinite(p.grad).all() and torch.isfinite(kappa.grad).all()
