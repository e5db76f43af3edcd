r"""The estimators and K-NN settings of earlier code, applied to correctly trained models.

These are kept to measure what each defect changes, never to report a result.

Log-likelihood. With K importance samples z_k ~ q(z|x) the IWAE estimate is

    LL_K(x) = log (1/K) sum_k w_k,   log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x),

and E LL_K increases with K towards log p(x) (Burda et al. 2016). The official examples use
K = 100 (TensorFlow) or K = 10 (PyTorch) where the paper reports K = 500; ``sample_counts``
measures the gap on the same samples (LL_K uses the first K of them).

The earlier reproduction (raphaelrubrice/HVAE) scores binary MNIST with a unit-variance Gaussian
likelihood on the decoder's Bernoulli means p = sigmoid(logits),

    log N(x; p, I) = -(D/2) log 2 pi - (1/2) ||x - p||^2     (D = 784 pixels),

and for the uniform prior on the sphere S^(m-1) in R^m it writes
log p(z) = lgamma(m/2) - (m/2) log 2 pi, where the density is
lgamma(m/2) - log 2 - (m/2) log pi: its value is off by the constant (1 - m/2) log 2.
``reproduction_log_likelihood`` is that estimator on our models (m = z_dim).

K-NN. The earlier reproduction draws its labelled points with ``torch.randint`` (uniformly from
the training set, with replacement, not class-balanced), votes with k = 5 and scores only the
first 100 test images; ``knn_variants`` changes one of these at a time, then all three.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hvae_lib.evaluation.knn import balanced_label_draw, knn_predict
from hvae_lib.models.vae import VAE

REPRODUCTION_TEST_IMAGES = 100
REPRODUCTION_K = 5


def prior_constant_error(z_dim: int) -> float:
    """The earlier reproduction's log-density of the uniform prior on S^(z_dim - 1) minus the
    true one: (1 - z_dim/2) log 2 nats."""
    return (1 - z_dim / 2) * math.log(2)


@torch.no_grad()
def sample_counts(model: VAE, x: torch.Tensor, counts: tuple[int, ...] = (10, 100, 500), max_elements: int = 2**26) -> dict[int, torch.Tensor]:
    """LL_K of every example under every run for K in ``counts``: {K: tensor (runs, n)}. One set
    of max(counts) samples per example; LL_K uses its first K, so the differences between
    counts are paired."""
    return audit_log_likelihoods(model, x, counts, max_elements, reproduction=False)[0]


@torch.no_grad()
def reproduction_log_likelihood(model: VAE, x: torch.Tensor, samples: int = 500, max_elements: int = 2**26) -> torch.Tensor:
    """The earlier reproduction's IWAE estimate (unit-variance Gaussian likelihood on the
    Bernoulli means; its sphere-prior constant) of every example under every run: (runs, n)."""
    return audit_log_likelihoods(model, x, (samples,), max_elements, bernoulli=False)[1]


@torch.no_grad()
def audit_log_likelihoods(
    model: VAE, x: torch.Tensor, counts: tuple[int, ...] = (10, 100, 500), max_elements: int = 2**26,
    bernoulli: bool = True, reproduction: bool = True,
) -> tuple[dict[int, torch.Tensor], torch.Tensor | None]:
    """``sample_counts`` and ``reproduction_log_likelihood`` (with max(counts) samples) from one
    set of posterior samples and one decoder pass: ({K: LL_K (runs, n)}, the earlier
    reproduction's estimate (runs, n)); either can be left out (empty dict, None)."""
    if min(counts) < 1:
        raise ValueError(f"sample counts must be >= 1, got {counts}")
    if reproduction and model.likelihood != "bernoulli":
        raise ValueError("the earlier reproduction's estimator replaces a Bernoulli likelihood; this model is Gaussian")
    samples = max(counts)
    offset = prior_constant_error(model.z_dim) if model.latent != "normal" else 0.0
    model.eval()
    chunk = max(1, max_elements // (model.runs * samples * x.shape[-1]))
    prior = model.prior()
    ll, written = [], []
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk].expand(model.runs, -1, -1)
        q = model.posterior(xs)
        z = q.rsample((samples,))
        log_ratio = prior.log_prob(z) - q.log_prob(z)
        out = _decode_samples(model, z)
        if bernoulli:
            log_w = model.log_likelihood_from_outputs(xs, out) + log_ratio
            ll.append({k: torch.logsumexp(log_w[:k], dim=0) - math.log(k) for k in counts})
        if reproduction:
            squared = (torch.sigmoid(out) - xs).pow(2).sum(-1)
            log_w = -0.5 * squared - 0.5 * xs.shape[-1] * math.log(2 * math.pi) + log_ratio + offset
            written.append(torch.logsumexp(log_w, dim=0) - math.log(samples))
    by_count = {k: torch.cat([part[k] for part in ll], dim=1) for k in counts} if bernoulli else {}
    return by_count, torch.cat(written, dim=1) if reproduction else None


def _decode_samples(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """The decoder's outputs for z (samples, runs, n, z_dim): (samples, runs, n, x_dim)."""
    samples, runs, n, z_dim = z.shape
    flat = z.permute(1, 0, 2, 3).reshape(runs, samples * n, z_dim)
    return model.decode(flat).reshape(runs, samples, n, -1).permute(1, 0, 2, 3)


def uniform_label_draw(n_train: int, n_labels: int, draw: int, seed: int = 0) -> np.ndarray:
    """``n_labels`` training indices drawn uniformly with replacement (the earlier
    reproduction's ``torch.randint``), seeded by (seed, n_labels, draw) alone."""
    return np.random.default_rng([seed, n_labels, draw, 1]).integers(0, n_train, size=n_labels)


KNN_VARIANTS = {
    "this book's protocol": dict(replace=False, test_images=None, k=1),
    "100 test images": dict(replace=False, test_images=REPRODUCTION_TEST_IMAGES, k=1),
    "labels with replacement": dict(replace=True, test_images=None, k=1),
    "k = 5": dict(replace=False, test_images=None, k=REPRODUCTION_K),
    "earlier reproduction (all three)": dict(replace=True, test_images=REPRODUCTION_TEST_IMAGES, k=REPRODUCTION_K),
}


def knn_variants(
    train_codes: torch.Tensor,
    train_labels: np.ndarray,
    test_codes: torch.Tensor,
    test_labels: np.ndarray,
    n_labels: tuple[int, ...],
    draws: int,
) -> list[dict]:
    """Test accuracy (%) of K-NN (Euclidean, i.e. arc-length order on unit vectors) under every
    setting of ``KNN_VARIANTS``, for every (labels, draw); one dict per combination."""
    train_y = torch.as_tensor(train_labels, dtype=torch.long)
    test_y = torch.as_tensor(test_labels, dtype=torch.long)
    rows = []
    for n in n_labels:
        for draw in range(draws):
            for variant, setting in KNN_VARIANTS.items():
                if setting["replace"]:
                    index = uniform_label_draw(len(train_labels), n, draw)
                else:
                    index = balanced_label_draw(train_labels, n, draw)
                index = torch.as_tensor(index)
                query = slice(None, setting["test_images"])
                k = setting["k"]
                predicted = knn_predict(train_codes[index], train_y[index], test_codes[query], (k,))[k]
                accuracy = 100.0 * (predicted == test_y[query]).double().mean().item()
                rows.append({"variant": variant, "labels": n, "draw": draw, "accuracy": accuracy})
    return rows
