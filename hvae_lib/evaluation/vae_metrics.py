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

from hvae_lib.models.ensemble import run_parameters
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


def evaluate_vae(model: VAE, x: torch.Tensor, samples: int = 500, seeds: list[int] | None = None) -> list[dict[str, float]]:
    """Test-set means of LL, ELBO, RE and KL, one dict per run; refuses non-finite results.

    With ``seeds`` (one per run) run r is evaluated alone with torch's generator seeded by
    ``seeds[r]``, so its estimate does not depend on which runs it was trained beside.
    """
    if seeds is None:
        metrics = iwae_log_likelihood(model, x, samples)
    else:
        if len(seeds) != model.runs:
            raise ValueError(f"need one seed per run: {model.runs} runs, {len(seeds)} seeds")
        parts = []
        for r, seed in enumerate(seeds):
            with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
                torch.manual_seed(seed)
                parts.append(iwae_log_likelihood(run_model(model, r), x, samples))
        metrics = {name: torch.cat([part[name] for part in parts]) for name in parts[0]}
    means = {name: metrics[name].double().mean(dim=1) for name in ("LL", "ELBO", "RE", "KL")}
    bad = [name for name, value in means.items() if not torch.isfinite(value).all()]
    if bad:
        raise FloatingPointError(f"non-finite test metrics {bad}: {({k: v.tolist() for k, v in means.items()})}")
    return [{name: float(value[r]) for name, value in means.items()} for r in range(model.runs)]


@torch.no_grad()
def latent_statistics(model: VAE, x: torch.Tensor, threshold: float = 0.01, batch_size: int = 5000) -> dict[str, list]:
    r"""Posterior-collapse indicators per run, on the examples ``x`` (n, x_dim).

    - ``active_units``: the coordinates j of z with Var_x E_q[z_j | x] > ``threshold`` (Burda et
      al. 2016), out of ``z_dim``; E_q[z | x] is the mean, A_m(kappa) mu for the vMF.
    - ``kl``: the mean KL(q(z|x) || p(z)) in nats.
    - normal: ``kl_per_dim``, the mean KL of every coordinate (they sum to ``kl``).
    - spherical: ``kappa_q10``, ``kappa_median``, ``kappa_q90``, quantiles of kappa over x.
    """
    device = model.loc_head.weight.device
    means, kls, extra = [], [], []
    for start in range(0, x.shape[0], batch_size):
        xs = x[start : start + batch_size].to(device).expand(model.runs, -1, -1)
        q = model.posterior(xs)
        means.append(q.mean.double())
        kls.append(torch.distributions.kl_divergence(q, model.prior()).double())
        if model.latent == "normal":
            mu, sigma = q.base_dist.loc.double(), q.base_dist.scale.double()
            extra.append((mu**2 + sigma**2 - 1) / 2 - torch.log(sigma))
        else:
            extra.append(q.concentration.double())
    mean = torch.cat(means, dim=1)
    stats = {
        "active_units": (mean.var(dim=1) > threshold).sum(dim=1).tolist(),
        "z_dim": [mean.shape[-1]] * model.runs,
        "kl": torch.cat(kls, dim=1).mean(dim=1).tolist(),
    }
    values = torch.cat(extra, dim=1)
    if model.latent == "normal":
        stats["kl_per_dim"] = values.mean(dim=1).tolist()
    else:
        quantiles = torch.quantile(values, torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64, device=device), dim=1)
        stats.update(kappa_q10=quantiles[0].tolist(), kappa_median=quantiles[1].tolist(), kappa_q90=quantiles[2].tolist())
    return stats


def run_model(model: VAE, run: int) -> VAE:
    """Run ``run`` of the ensemble ``model`` as a 1-run VAE (a copy, on the same device, with
    its activation). Its circle sampler is the vMF's: the copy is for evaluation, where an
    importance weight needs the density of the proposal that drew its sample."""
    single = VAE(
        model.encoder[0].weight.shape[1], model.latent, model.d,
        hidden=[layer.weight.shape[2] for layer in model.encoder if hasattr(layer, "weight")],
        runs=1, likelihood=model.likelihood, noise_scale=model.noise_scale, activation=model.activation,
    ).to(model.loc_head.weight.device)
    single.load_state_dict(run_parameters(model, run))
    return single
