"""The earlier code's estimators and K-NN settings, against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from hvae_lib.evaluation.reproduction_audit import (
    KNN_VARIANTS,
    audit_log_likelihoods,
    knn_variants,
    prior_constant_error,
    reproduction_log_likelihood,
    sample_counts,
    uniform_label_draw,
)
from hvae_lib.models.vae import VAE
from tests.test_vae import linear_gaussian_vae


@pytest.mark.parametrize("m, area", [(2, 2 * math.pi), (3, 4 * math.pi), (4, 2 * math.pi**2), (5, 8 * math.pi**2 / 3)])
def test_prior_constant_error_is_the_written_minus_the_true_log_density(m, area):
    written = special.gammaln(m / 2) - (m / 2) * math.log(2 * math.pi)
    assert prior_constant_error(m) == pytest.approx(written - (-math.log(area)), abs=1e-12)


def test_sample_counts_increase_towards_the_exact_log_likelihood():
    """Linear Gaussian VAE, log p(x) in closed form: LL_1 < LL_10 < LL_5000 and LL_5000 within
    0.05 nats of the truth (64 points, seeded), as in the IWAE test."""
    model, covariance = linear_gaussian_vae()
    marginal = torch.distributions.MultivariateNormal(model.decoder[0].bias[0, 0].detach(), covariance)
    torch.manual_seed(4)
    x = marginal.sample((64,))
    exact = float(marginal.log_prob(x).mean())
    torch.manual_seed(5)
    ll = {k: float(v.mean()) for k, v in sample_counts(model, x, (1, 10, 5000)).items()}
    assert ll[1] < ll[10] < ll[5000] < exact + 0.02
    assert ll[5000] == pytest.approx(exact, abs=0.05)


def test_reproduction_estimator_is_unit_gaussian_likelihood_with_the_written_prior():
    """Recomputed from the same posterior samples with scipy's normal log-density and the
    written prior lgamma(m/2) - (m/2) log 2 pi."""
    torch.manual_seed(0)
    model = VAE(12, "vmf", 2, hidden=(8,), runs=2)
    x = torch.bernoulli(torch.rand(5, 12))
    torch.manual_seed(1)
    estimate = reproduction_log_likelihood(model, x, samples=7)
    torch.manual_seed(1)
    with torch.no_grad():
        xs = x.expand(2, -1, -1)
        q = model.posterior(xs)
        z = q.rsample((7,))
        means = torch.sigmoid(torch.stack([model.decode(z[s]) for s in range(7)])).double().numpy()
        log_q = q.log_prob(z).double().numpy()
    m = model.z_dim
    written_prior = special.gammaln(m / 2) - (m / 2) * math.log(2 * math.pi)
    log_w = stats.norm.logpdf(xs.double().numpy()[None], loc=means, scale=1.0).sum(-1) + written_prior - log_q
    expected = special.logsumexp(log_w, axis=0) - math.log(7)
    np.testing.assert_allclose(estimate.double().numpy(), expected, atol=1e-4)


def test_one_pass_audit_equals_the_two_estimators_on_the_same_samples():
    torch.manual_seed(0)
    model = VAE(12, "vmf", 3, hidden=(8,), runs=2)
    x = torch.bernoulli(torch.rand(9, 12))
    torch.manual_seed(1)
    by_count, written = audit_log_likelihoods(model, x, (3, 20), max_elements=2000)
    torch.manual_seed(1)
    separate = sample_counts(model, x, (3, 20), max_elements=2000)
    torch.manual_seed(1)
    torch.testing.assert_close(written, reproduction_log_likelihood(model, x, samples=20, max_elements=2000))
    for k in (3, 20):
        torch.testing.assert_close(by_count[k], separate[k])


def test_reproduction_estimator_refuses_a_gaussian_model():
    model = VAE(6, "normal", 2, hidden=(), likelihood="gaussian")
    with pytest.raises(ValueError, match="Bernoulli"):
        reproduction_log_likelihood(model, torch.zeros(3, 6))


def test_uniform_label_draw_is_with_replacement_and_reproducible():
    first = uniform_label_draw(1000, 1000, draw=3)
    assert len(np.unique(first)) < 1000
    np.testing.assert_array_equal(first, uniform_label_draw(1000, 1000, draw=3))
    assert not np.array_equal(first, uniform_label_draw(1000, 1000, draw=4))


def test_knn_variants_change_one_setting_at_a_time():
    """Codes that separate the classes perfectly, except that test points after the first 100
    sit on the wrong class's cluster: only the variants scored on 100 test images reach 100%,
    the others are 100/1000 = 10% correct, with or without replacement and at k = 1 or 5."""
    rng = np.random.default_rng(0)
    centres = 10.0 * np.eye(10)
    train_labels = np.repeat(np.arange(10), 100)
    train = torch.as_tensor(centres[train_labels] + 0.01 * rng.standard_normal((1000, 10)))
    test_labels = np.tile(np.arange(10), 100)
    placed = np.where(np.arange(1000) < 100, test_labels, (test_labels + 1) % 10)
    test = torch.as_tensor(centres[placed] + 0.01 * rng.standard_normal((1000, 10)))
    rows = knn_variants(train, train_labels, test, test_labels, (100,), draws=2)
    assert len(rows) == 2 * len(KNN_VARIANTS)
    accuracy = {r["variant"]: r["accuracy"] for r in rows if r["draw"] == 0}
    assert accuracy["100 test images"] == 100.0
    assert accuracy["this book's protocol"] == accuracy["k = 5"] == 10.0
    # 100 uniform draws from 1000 miss a class with probability 10 * 0.9^100 < 3e-4, and each
    # class then has at least 5 labelled points: with replacement changes nothing here.
    assert accuracy["labels with replacement"] == 10.0
    assert accuracy["earlier reproduction (all three)"] == 100.0
