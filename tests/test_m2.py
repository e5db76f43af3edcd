"""Kingma's M2: the exact sum over classes against a brute-force loop, the bound's terms against
closed forms and scipy, and the independence of the runs of an ensemble."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from hvae_lib.models.m2 import M2

RUNS, N, X_DIM, D, K = 2, 4, 3, 2, 3


def _model(latent: str) -> M2:
    torch.manual_seed(0)
    return M2(X_DIM, latent, D, classes=K, hidden=5, runs=RUNS, generator=torch.Generator().manual_seed(1)).double()


def _draws(model: M2, shape) -> torch.Tensor:
    z2 = torch.randn(*shape, model.z_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    return z2 if model.latent == "normal" else F.normalize(z2, dim=-1)


@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_unlabelled_bound_equals_a_brute_force_sum_over_classes(latent):
    model = _model(latent)
    z1 = torch.randn(RUNS, N, X_DIM, dtype=torch.float64)
    z2 = _draws(model, (RUNS, N, K))
    enumerated = model.unlabelled_bound(z1, z2=z2)
    expected = torch.zeros(RUNS, N, dtype=torch.float64)
    for i in range(N):
        x = z1[:, i : i + 1]
        q_y = F.softmax(model.class_logits(x), dim=-1)[:, 0]
        for y in range(K):
            label = torch.full((RUNS, 1), y)
            bound = model.labelled_bound(x, label, z2=z2[:, i, y : y + 1])[:, 0]
            expected[:, i] += q_y[:, y] * bound - q_y[:, y] * torch.log(q_y[:, y])
    torch.testing.assert_close(enumerated, expected, rtol=1e-12, atol=1e-12)


def test_labelled_bound_terms_match_closed_forms():
    """Normal z2: log N(z1; mu, sigma^2) from scipy, the Gaussian KL in closed form, log p(y) = -log K."""
    model = _model("normal")
    z1 = torch.randn(RUNS, N, X_DIM, dtype=torch.float64)
    y = torch.randint(0, K, (RUNS, N), generator=torch.Generator().manual_seed(3))
    z2 = _draws(model, (RUNS, N))
    with torch.no_grad():
        bound = model.labelled_bound(z1, y, z2=z2).numpy()
        p = model.likelihood(y, z2).base_dist
        q = model.posterior(z1, y).base_dist
        mean, sd, m, s = (t.numpy() for t in (p.loc, p.scale, q.loc, q.scale))
    log_lik = stats.norm.logpdf(z1.numpy(), mean, sd).sum(-1)
    kl = 0.5 * (s**2 + m**2 - 1 - np.log(s**2)).sum(-1)
    np.testing.assert_allclose(bound, log_lik - math.log(K) - kl, rtol=1e-10)


def test_vmf_bound_uses_the_vmf_kl_to_the_uniform_prior():
    model = _model("vmf")
    z1 = torch.randn(RUNS, N, X_DIM, dtype=torch.float64)
    y = torch.zeros(RUNS, N, dtype=torch.long)
    z2 = _draws(model, (RUNS, N))
    with torch.no_grad():
        q = model.posterior(z1, y)
        bound = model.labelled_bound(z1, y, z2=z2)
        log_lik = model.likelihood(y, z2).log_prob(z1)
        # KL(vMF || U) = -H(vMF) + log |S^d|: the entropy by Monte Carlo, 200k draws, 3 sd.
        draws = q.rsample((200_000,))
        log_q = q.log_prob(draws)
    log_area = math.log(2) + (D + 1) / 2 * math.log(math.pi) - math.lgamma((D + 1) / 2)
    kl_mc = log_q.mean(0) + log_area
    kl = log_lik - math.log(K) - bound
    tolerance = 3 * log_q.std(0) / math.sqrt(200_000)
    assert ((kl - kl_mc).abs() < tolerance).all()


@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_runs_are_independent_and_seeded_alone(latent):
    seeds = [11, 12]
    model = M2.from_seeds(X_DIM, latent, D, seeds, classes=K, hidden=5)
    alone = M2.from_seeds(X_DIM, latent, D, [12], classes=K, hidden=5)
    for (name, p), q in zip(model.named_parameters(), alone.parameters()):
        torch.testing.assert_close(p[1:2], q, msg=name)
    z1 = torch.randn(RUNS, N, X_DIM)
    labels = torch.randint(0, K, (RUNS, 2))
    loss = model.loss(z1[:, :2], labels, z1[:, 2:], alpha=50.0)
    assert loss.shape == (RUNS,) and torch.isfinite(loss).all()
    loss[0].backward()
    for name, p in model.named_parameters():
        assert torch.isfinite(p.grad).all(), name
        assert p.grad[1].abs().max() == 0, f"run 0's loss reaches run 1's {name}"
        assert p.grad[0].abs().max() > 0, f"run 0's loss does not reach its {name}"


def test_loss_weighs_the_labelled_classifier_term_by_alpha():
    model = _model("normal")
    z1 = torch.randn(RUNS, N, X_DIM, dtype=torch.float64)
    labels = torch.randint(0, K, (RUNS, 2), generator=torch.Generator().manual_seed(4))
    torch.manual_seed(5)
    base = model.loss(z1[:, :2], labels, z1[:, 2:], alpha=0.0)
    torch.manual_seed(5)
    weighted = model.loss(z1[:, :2], labels, z1[:, 2:], alpha=2.0)
    log_q = F.log_softmax(model.class_logits(z1[:, :2]), dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1).sum(-1)
    torch.testing.assert_close(weighted, base - 2.0 * log_q)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="latent"):
        M2(3, "power_spherical", 2)
    with pytest.raises(ValueError, match="classes"):
        M2(3, "normal", 2, classes=1)
