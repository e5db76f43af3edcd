"""Figure 1: data on a circle, seen through a Gaussian and a hyperspherical latent space.

Three von Mises on S^1 are lifted to R^100 (``hvae_lib.data.circle``). Three VAEs with a Gaussian
likelihood (the data's own noise scale) learn a latent representation of the lifted points:
an N-VAE with a 2-D Gaussian latent (beta = 1), the same with the KL down-weighted to
beta = 0.1, and an S-VAE whose latent is the circle S^1 itself (d = 1, in R^2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from hvae_lib.data.circle import lift, make_circle_data
from hvae_lib.experiments.vae_runs import VAEProtocol, latent_codes, run_config, run_vae, store_latent_codes
from hvae_lib.results import RunStore
from hvae_lib.training.vae_training import TrainingSchedule

NOISE = 0.1
MODELS = {
    "N-VAE (β = 1)": ("normal", 2, 1.0),
    "N-VAE (β = 0.1)": ("normal", 2, 0.1),
    "S-VAE": ("vmf", 1, 1.0),
}
COMPONENT_COLORS = np.array(["#0072B2", "#D55E00", "#009E73"])


@dataclass(frozen=True)
class Figure1Profile:
    runs: int
    n_train: int
    n_valid: int
    n_test: int
    schedule: TrainingSchedule
    iwae_samples: int


PROFILES = {
    "smoke": Figure1Profile(1, 300, 100, 100, TrainingSchedule(max_epochs=3, warmup_epochs=1, patience=2), 16),
    "cpu": Figure1Profile(3, 3000, 500, 1000, TrainingSchedule(max_epochs=150, warmup_epochs=20, patience=30), 200),
    "full": Figure1Profile(10, 3000, 500, 1000, TrainingSchedule(max_epochs=500, warmup_epochs=50, patience=100), 500),
}


def figure1_store(profile: str) -> RunStore:
    return RunStore("figure1", profile)


def _protocol(setup: Figure1Profile, beta: float) -> VAEProtocol:
    schedule = replace(setup.schedule, final_beta=beta)
    return VAEProtocol(schedule, hidden=(128, 64), iwae_samples=setup.iwae_samples, likelihood="gaussian", noise_scale=NOISE)


def _data(setup: Figure1Profile) -> dict[str, object]:
    """What defines the circle data (part of every run's key): sizes, seeds and noise."""
    return {"dataset": "circle", "sizes": [setup.n_train, setup.n_valid, setup.n_test], "seeds": [0, 1, 2], "noise": NOISE}


def figure1_runs(profile: str) -> pd.DataFrame:
    """Train (or read) every run of the three models; one row per run with LL, ELBO, RE, KL.
    Every run stores the posterior means of the test points (``latent_codes``)."""
    setup = PROFILES[profile]
    train, valid, test = (make_circle_data(n, seed, noise=NOISE) for n, seed in ((setup.n_train, 0), (setup.n_valid, 1), (setup.n_test, 2)))
    store = figure1_store(profile)
    frames = []
    for name, (latent, d, beta) in MODELS.items():
        frames.append(
            run_vae(
                store, {"model": name}, latent, d, range(setup.runs), _protocol(setup, beta), _data(setup),
                train.x, valid.x, test.x, after_training=lambda trained: store_latent_codes(store, trained, test.x),
            )
        )
    return pd.concat(frames, ignore_index=True)


def figure1(profile: str, runs: pd.DataFrame) -> plt.Figure:
    """Four panels: the true latent points, then each model's posterior means (run 0), coloured
    by mixture component, titled with the model's test log-likelihood (mean over runs)."""
    setup = PROFILES[profile]
    test = make_circle_data(setup.n_test, 2, noise=NOISE)
    colors = COMPONENT_COLORS[test.component.numpy()]
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 7.5))
    axes = axes.ravel()
    panels = [("original latent (S¹)", test.z.numpy())]
    for name, (_, _, beta) in MODELS.items():
        config = run_config({"model": name}, _protocol(setup, beta), _data(setup))
        codes = latent_codes(figure1_store(profile), config, 0).to_numpy()
        ll = runs.loc[runs["model"] == name, "LL"].mean()
        panels.append((f"{name}\nLL = {ll:.1f}", codes))
    for ax, (title, points) in zip(axes, panels):
        ax.scatter(points[:, 0], points[:, 1], c=colors, s=4, alpha=0.6, linewidths=0)
        ax.set_title(title, fontsize=11)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
    return fig


def figure1_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test LL, ELBO, RE and KL per model, mean ± sd over runs."""
    summary = runs.groupby("model", sort=False)[["LL", "ELBO", "RE", "KL"]].agg(["mean", "std"])
    table = pd.DataFrame(index=summary.index)
    for metric in ("LL", "ELBO", "RE", "KL"):
        table[metric] = [f"{m:.2f} ± {s:.2f}" if not np.isnan(s) else f"{m:.2f}" for m, s in summary[metric].to_numpy()]
    table["runs"] = runs.groupby("model", sort=False).size()
    return table


def true_log_likelihood_bound(profile: str) -> float:
    """Mean log-density of the test points' noise alone, log N(x; f(z), sigma^2 I): what a model
    that knew the latent point and the map exactly would score (an upper reference for LL)."""
    test = make_circle_data(PROFILES[profile].n_test, 2, noise=NOISE)
    residual = test.x - lift(test.z)
    return float(torch.distributions.Normal(0.0, NOISE).log_prob(residual).sum(-1).mean())
