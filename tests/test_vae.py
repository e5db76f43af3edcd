"""The VAE ensemble, its training engine and the IWAE estimator."""

from __future__ import annotations

import math

import pytest
import torch

from hvae_lib.evaluation import iwae_log_likelihood
from hvae_lib.models.ensemble import EnsembleLinear, run_parameters
from hvae_lib.models.vae import VAE
from hvae_lib.training.vae_training import TrainingSchedule


def test_ensemble_runs_are_independent_models():
    """Run r of a 3-run ensemble computes exactly what a 1-run copy of its parameters computes,
    and receives exactly that copy's gradient, whatever the other runs do."""
    torch.manual_seed(0)
    ensemble = VAE(20, "normal", 3, hidden=(16, 8), runs=3)
    single = VAE(20, "normal", 3, hidden=(16, 8), runs=1)
    single.load_state_dict(run_parameters(ensemble, 1))
    x = torch.bernoulli(torch.rand(3, 7, 20))
    z = torch.randn(3, 7, 3)
    ensemble_ll = ensemble.log_likelihood(x, z)
    single_ll = single.log_likelihood(x[1:2], z[1:2])
    torch.testing.assert_close(ensemble_ll[1:2], single_ll, rtol=1e-6, atol=1e-5)
    ensemble_ll.sum().backward()
    single_ll.sum().backward()
    for (name, p_ens), (_, p_one) in zip(ensemble.named_parameters(), single.named_parameters()):
        if p_one.grad is not None:
            torch.testing.assert_close(p_ens.grad[1:2], p_one.grad, rtol=1e-5, atol=1e-6, msg=name)


def test_ensemble_linear_matches_linear_per_run():
    layer = EnsembleLinear(4, 5, 2, generator=torch.Generator().manual_seed(1))
    x = torch.randn(4, 3, 5)
    expected = torch.stack([x[r] @ layer.weight[r] + layer.bias[r] for r in range(4)])
    torch.testing.assert_close(layer(x), expected)
    bound = 1 / math.sqrt(5)
    assert layer.weight.abs().max() <= bound and layer.weight.std() > bound / 3


@pytest.mark.parametrize("latent, z_dim", [("normal", 4), ("vmf", 5), ("power_spherical", 5)])
def test_vae_shapes_and_prior(latent, z_dim):
    model = VAE(30, latent, 4, hidden=(16,), runs=2)
    x = torch.bernoulli(torch.rand(2, 6, 30))
    q = model.posterior(x)
    z = q.rsample((3,))
    assert z.shape == (3, 2, 6, z_dim)
    assert model.log_likelihood(x, z).shape == (3, 2, 6)
    reconstruction, kl = model.elbo_terms(x)
    assert reconstruction.shape == kl.shape == (2, 6) and (kl >= 0).all()
    if latent != "normal":
        # The uniform prior on S^4 has log density lgamma(5/2) - log 2 - (5/2) log pi.
        expected = math.lgamma(2.5) - math.log(2) - 2.5 * math.log(math.pi)
        torch.testing.assert_close(model.prior().log_prob(z[0, 0]), torch.full((6,), expected))


def test_vae_rejects_bad_arguments():
    with pytest.raises(ValueError, match="latent must be one of"):
        VAE(10, "gaussian", 2)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(10, "normal", 2, likelihood="poisson")
    with pytest.raises(ValueError, match="d .* must be >= 1"):
        VAE(10, "normal", 0)
    with pytest.raises(ValueError, match="warmup_epochs"):
        TrainingSchedule(max_epochs=5, warmup_epochs=5, patience=1)


def linear_gaussian_vae(sigma: float = 0.5) -> tuple[VAE, torch.Tensor]:
    """A 1-layer (linear) Gaussian decoder x = W z + b + sigma eps with z ~ N(0, I): its marginal
    is N(b, W W^T + sigma^2 I). Returns the model and that covariance."""
    torch.manual_seed(3)
    model = VAE(6, "normal", 2, hidden=(), runs=1, likelihood="gaussian", noise_scale=sigma)
    decoder = model.decoder[0]
    covariance = decoder.weight[0].T @ decoder.weight[0] + sigma**2 * torch.eye(6)
    return model, covariance.detach()


def test_iwae_converges_to_the_exact_log_likelihood():
    """On a linear Gaussian VAE, log p(x) is known in closed form. The IWAE estimate is a lower
    bound whose gap shrinks with K: with K = 5000 it is within 0.05 nats (averaged over 64
    points, seeded) of the truth, and it never exceeds the truth by more than Monte Carlo noise."""
    model, covariance = linear_gaussian_vae()
    decoder = model.decoder[0]
    marginal = torch.distributions.MultivariateNormal(decoder.bias[0, 0].detach(), covariance)
    torch.manual_seed(4)
    x = marginal.sample((64,))
    exact = marginal.log_prob(x).mean()
    torch.manual_seed(5)
    few = iwae_log_likelihood(model, x, samples=1)
    many = iwae_log_likelihood(model, x, samples=5000)
    assert many["LL"].mean() == pytest.approx(float(exact), abs=0.05)
    assert few["LL"].mean() < many["LL"].mean() < exact + 0.02
    # The ELBO is below the IWAE bound per example (Jensen), and ELBO = RE - KL.
    assert (many["ELBO"] <= many["LL"] + 1e-4).all()
    torch.testing.assert_close(many["ELBO"], many["RE"] - many["KL"])


def test_ll_is_above_elbo_for_a_vmf_vae():
    torch.manual_seed(6)
    model = VAE(30, "vmf", 2, hidden=(16,), runs=2)
    x = torch.bernoulli(torch.rand(40, 30))
    metrics = iwae_log_likelihood(model, x, samples=200)
    assert metrics["LL"].shape == (2, 40)
    assert (metrics["LL"].mean(1) > metrics["ELBO"].mean(1)).all()


@pytest.mark.parametrize("activation", ["relu", "softplus"])
@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_a_run_copied_out_of_an_ensemble_computes_what_the_ensemble_does(activation, latent):
    """``run_model`` keeps everything that changes the forward pass (a Kingma M1 is softplus):
    the copy's posterior and decoder equal the ensemble's run 1."""
    from hvae_lib.evaluation.vae_metrics import run_model

    model = VAE.from_seeds(12, latent, 3, [0, 1, 2], hidden=(16, 8), activation=activation)
    x = torch.rand(5, 12).round()
    single = run_model(model, 1)
    assert single.activation == activation
    with torch.no_grad():
        ours, theirs = model.posterior(x.expand(3, -1, -1)), single.posterior(x.unsqueeze(0))
        assert torch.allclose(ours.mean[1], theirs.mean[0], atol=1e-6)
        z = theirs.mean
        assert torch.allclose(model.decoder(z.expand(3, -1, -1))[1], single.decoder(z)[0], atol=1e-6)
