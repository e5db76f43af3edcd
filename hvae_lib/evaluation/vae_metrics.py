r"""Test-set metrics of a (ensemble) VAE.

IWAE log-likelihood (Burda et al. 2016) with K importance samples from the posterior:

    LL(x) = log (1/K) sum_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)),   z_k ~ q(z|x),

a lower bound on log p(x) that tightens as K grows (LL_1 = ELBO in expectation). The priors'
densities are exact: N(0, I), or the uniform on S^d with
log p(z) = lgamma((d+1)/2) - log 2 - ((d+1)/2) log pi. With the same K samples,

    RE(x) = (1/K) sum_k log p(x|z_k)   (an unbiased estimate of E_q log p(x|z)),
    KL(x) = KL(q(z|x) || p(z))          (analytic),   ELBO = RE - KL.

Work is split into chunks of examples so that the decoder output, runs x K x chunk x x_dim
floats, stays below ``max_elements``.
"""

from __future__ import annotations

import math

import torch

from hvae_lib.models.vae import VAE


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: torch.Tensor, samples: int = 500, max_elements: int = 2**26) -> dict[str, torch.Tensor]:
    """Per run and example: IWAE ``LL``, ``RE``, ``KL`` and ``ELBO``, each of shape (runs, n).

    ``x`` (n, x_dim) is shared by all runs (binarise it before, with a seeded generator).
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    model.eval()
    chunk = max(1, max_elements // (model.runs * samples * x.shape[-1]))
    prior = model.prior()
    parts: dict[str, list[torch.Tensor]] = {"LL": [], "RE": [], "KL": []}
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk].expand(model.runs, -1, -1)
        q = model.posterior(xs)
        z = q.rsample((samples,))
        log_px_z = model.log_likelihood(xs, z)
        log_w = log_px_z + prior.log_prob(z) - q.log_prob(z)
        parts["LL"].append(torch.logsumexp(log_w, dim=0) - math.log(samples))
        parts["RE"].append(log_px_z.mean(dim=0))
        parts["KL"].append(torch.distributions.kl_divergence(q, prior))
    metrics = {name: torch.cat(values, dim=1) for name, values in parts.items()}
    metrics["ELBO"] = metrics["RE"] - metrics["KL"]
    return metrics


def evaluate_vae(model: VAE, x: torch.Tensor, samples: int = 500) -> list[dict[str, float]]:
    """Test-set means of LL, ELBO, RE and KL, one dict per run; refuses non-finite results."""
    metrics = iwae_log_likelihood(model, x, samples)
    means = {name: metrics[name].double().mean(dim=1) for name in ("LL", "ELBO", "RE", "KL")}
    bad = [name for name, value in means.items() if not torch.isfinite(value).all()]
    if bad:
        raise FloatingPointError(f"non-finite test metrics {bad}: {({k: v.tolist() for k, v in means.items()})}")
    return [{name: float(value[r]) for name, value in means.items()} for r in range(model.runs)]
