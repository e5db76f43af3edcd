"""Figure 2: the 2-dimensional MNIST latent spaces of the N-VAE (R^2) and the S-VAE (S^2).

The codes are the posterior means (N-VAE) and mean directions (S-VAE) of the test digits under
run 0 of Table 1's d = 2 models, stored when those runs finished.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hvae_lib.data import load_images
from hvae_lib.experiments.table1 import PROFILES, table1_runs, table1_store
from hvae_lib.experiments.vae_runs import latent_codes, run_config
from hvae_lib.plotting import hammer_projection

DIGIT_COLORS = plt.get_cmap("tab10")


def figure2_codes(profile: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(N-VAE codes in R^2, S-VAE codes on S^2, test labels), training the d = 2 runs if needed."""
    table1_runs(profile, dims=(2,))
    setup = PROFILES[profile]
    store = table1_store(profile)
    normal, sphere = (latent_codes(store, run_config({"model": m, "d": 2}, setup.protocol, setup.data()), 0) for m in ("N-VAE", "S-VAE"))
    labels = load_images("mnist").test.labels[: setup.n_test].numpy()
    return normal, sphere, labels


def figure2(profile: str) -> plt.Figure:
    """Left: N-VAE codes in R^2; middle: S-VAE codes on S^2 in the Hammer projection; right: the
    two hemispheres z0 > 0 and z0 < 0 seen from outside (orthographic). Test digits coloured by
    class, with a class legend."""
    normal, sphere, labels = figure2_codes(profile)
    colors = DIGIT_COLORS(labels % 10)
    fig = plt.figure(figsize=(13, 4.2))
    grid = fig.add_gridspec(2, 3, width_ratios=(1, 1.4, 0.7))
    ax_n = fig.add_subplot(grid[:, 0])
    ax_n.scatter(normal["z0"], normal["z1"], c=colors, s=3, alpha=0.6, linewidths=0)
    ax_n.set_title("N-VAE: posterior means in R²")
    ax_n.set_xlabel("$z_1$")
    ax_n.set_ylabel("$z_2$")
    ax_n.set_aspect("equal", adjustable="datalim")

    ax_h = fig.add_subplot(grid[:, 1])
    points = sphere[["z0", "z1", "z2"]].to_numpy()
    x, y = hammer_projection(points)
    ax_h.scatter(x, y, c=colors, s=3, alpha=0.6, linewidths=0)
    theta = np.linspace(0, 2 * np.pi, 400)
    ax_h.plot(2 * np.sqrt(2) * np.cos(theta), np.sqrt(2) * np.sin(theta), color="0.4", linewidth=0.8)
    ax_h.set_title("S-VAE: mean directions on S² (Hammer)")
    ax_h.set_aspect("equal")
    ax_h.axis("off")

    for row, (sign, name) in enumerate(((1, "z₀ > 0"), (-1, "z₀ < 0"))):
        ax = fig.add_subplot(grid[row, 2])
        front = sign * points[:, 0] > 0
        ax.scatter(sign * points[front, 1], points[front, 2], c=colors[front], s=2, alpha=0.6, linewidths=0)
        ax.plot(np.cos(theta), np.sin(theta), color="0.4", linewidth=0.8)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"hemisphere {name}", fontsize=9)

    handles = [plt.Line2D([], [], marker="o", linestyle="", color=DIGIT_COLORS(k), label=str(k)) for k in range(10)]
    fig.legend(handles=handles, loc="outside right center", title="digit", frameon=False)
    return fig
