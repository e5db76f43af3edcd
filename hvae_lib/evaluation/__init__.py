"""Evaluation of trained models: IWAE log-likelihood, ELBO, reconstruction and KL."""

from hvae_lib.evaluation.vae_metrics import evaluate_vae, iwae_log_likelihood, latent_statistics

__all__ = ["evaluate_vae", "iwae_log_likelihood", "latent_statistics"]
