"""The follow-up geometry chapter: why a 128-d prior sample decodes to noise.

Analytic and sampled facts about N(0, I_n) and the sphere (caps, norm and overlap
concentration), then the same questions asked of trained standard and compressed VAEs at
n = 128 (the MNIST pair of ``followup_runs.figure1_runs``): how far prior samples land from the
training codes, and whether the aggregate posterior's cosine moments match the prior's (claim C2).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from hvae_lib.coordinates import cap_fraction
from hvae_lib.experiments.followup_runs import figure1_runs, load_artifact
from hvae_lib.plotting import COLORS, CYCLE

CAP_ANGLES = (30, 45, 60, 75)
CAP_DIMS = (3, 16, 128, 1024)
MODEL_COLORS = {"standard": COLORS["normal"], "compressed": COLORS["vmf"]}
SAMPLES = {"smoke": 2000, "cpu": 100_000, "full": 100_000}


def cap_table() -> pd.DataFrame:
    """Share of S^(n-1) within each angle of a pole, for a few n."""
    rows = []
    for n in CAP_DIMS:
        row = {"n": n}
        for angle in CAP_ANGLES:
            row[f"{angle}°"] = f"{float(cap_fraction(n, math.radians(angle))):.1e}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("n")


def cap_figure() -> plt.Figure:
    """Cap fraction against n (log-log), one line per angle."""
    dims = np.unique(np.round(np.logspace(np.log10(2), np.log10(1024), 60)).astype(int))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for angle, color in zip(CAP_ANGLES, CYCLE):
        ax.plot(dims, [float(cap_fraction(int(n), math.radians(angle))) for n in dims], color=color, label=f"θ = {angle}°")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-40, 1.5)
    ax.set_xlabel("dimension n of the latent space")
    ax.set_ylabel("share of $S^{n-1}$ within θ of a point")
    ax.legend(loc="lower left")
    return fig


def _normal_samples(profile: str, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(SAMPLES[profile], n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def concentration_table(profile: str, dims=(2, 16, 128, 1024)) -> pd.DataFrame:
    """Mean and sd of |z| under N(0, I_n) against the chi_n values sqrt(n - 1/2) and sqrt(1/2)
    (their large-n limits), and the sd of the overlap q = z_a . z_b / (|z_a| |z_b|) against
    1/sqrt(n)."""
    rows = []
    for n in dims:
        z = _normal_samples(profile, n)
        norms = z.norm(dim=1)
        unit = torch.nn.functional.normalize(z, dim=1)
        overlap = (unit[0::2] * unit[1::2]).sum(1)
        exact_mean = math.sqrt(2) * math.exp(math.lgamma((n + 1) / 2) - math.lgamma(n / 2))
        rows.append({
            "n": n,
            "mean |z| (sampled)": float(norms.mean()), "mean |z| (exact)": exact_mean, "sqrt(n - 1/2)": math.sqrt(n - 0.5),
            "sd |z| (sampled)": float(norms.std()), "sd |z| (exact)": math.sqrt(n - exact_mean**2),
            "sd of q (sampled)": float(overlap.std()), "1/sqrt(n)": 1 / math.sqrt(n),
        })
    return pd.DataFrame(rows).set_index("n")


def concentration_figure(profile: str, dims=(2, 16, 128, 1024)) -> plt.Figure:
    """Densities of |z| / sqrt(n) and of the overlap q for several n."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for n, color in zip(dims, CYCLE):
        z = _normal_samples(profile, n)
        unit = torch.nn.functional.normalize(z, dim=1)
        left.hist((z.norm(dim=1) / math.sqrt(n)).numpy(), bins=120, range=(0, 2.5), density=True, histtype="step", color=color, label=f"n = {n}")
        right.hist((unit[0::2] * unit[1::2]).sum(1).numpy(), bins=120, range=(-1, 1), density=True, histtype="step", color=color, label=f"n = {n}")
    left.set_xlabel("norm |z| / sqrt(n) of z ~ N(0, I_n)")
    left.set_ylabel("density")
    right.set_xlabel("overlap q = cos angle(z_a, z_b)")
    right.set_ylabel("density")
    right.legend(loc="upper left")
    return fig


def prior_hole_table(profile: str) -> pd.DataFrame:
    """Median distance to the nearest training code of prior samples and of test codes (mean ±
    sd over runs), and their ratio, for the n = 128 MNIST pair."""
    runs = figure1_runs(profile)
    rows = []
    for model, part in runs.groupby("model", sort=False):
        ratio = part["prior_nn_distance"] / part["test_nn_distance"]
        rows.append({
            "model": model, "runs": len(part),
            "prior samples": _pm(part["prior_nn_distance"]), "test codes": _pm(part["test_nn_distance"]),
            "ratio": _pm(ratio), "mean code norm": _pm(part["mean_code_norm"]),
        })
    return pd.DataFrame(rows).set_index("model")


def moments_figure(profile: str) -> plt.Figure:
    """Mean and sd of cos phi_k of the test codes (first run of each model) against k, with the
    isotropic values 0 and 1/sqrt(n-k+1) of N(0, I) or the uniform sphere."""
    runs = figure1_runs(profile)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
    for model, part in runs.groupby("model", sort=False):
        moments = load_artifact(profile, part["key"].iloc[0], "moments")
        left.plot(moments["k"], moments["mean"], color=MODEL_COLORS[model], label=f"{model} VAE")
        right.plot(moments["k"], moments["sd"], color=MODEL_COLORS[model], label=f"{model} VAE")
    n = int(runs["n"].iloc[0])
    k = np.arange(1, n)
    left.axhline(0, color=COLORS["reference"], linestyle="--", label="prior")
    right.plot(k, 1 / np.sqrt(n - k + 1), color=COLORS["reference"], linestyle="--", label="prior: 1/sqrt(n-k+1)")
    left.set_xlabel("angle index k")
    right.set_xlabel("angle index k")
    left.set_ylabel("mean of cos φ_k over test codes")
    right.set_ylabel("sd of cos φ_k over test codes")
    right.set_yscale("log")
    left.legend()
    right.legend()
    return fig


def _pm(values: pd.Series, digits: int = 2) -> str:
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def shell_note(profile: str) -> str:
    """Where the standard VAE's codes sit relative to the prior's shell, in words."""
    runs = figure1_runs(profile)
    standard = runs[runs["model"] == "standard"]
    n = int(runs["n"].iloc[0])
    ratio = (standard["prior_nn_distance"] / standard["test_nn_distance"]).mean()
    return (f"The standard VAE's codes (posterior means) have mean norm {standard['mean_code_norm'].mean():.1f}, against "
            f"sqrt(n) = {math.sqrt(n):.1f} for prior samples: they fill a small region well inside the shell where the prior "
            f"puts its mass, and a prior sample lands {ratio:.0f} times farther from its nearest training code than a test "
            "code does.")
