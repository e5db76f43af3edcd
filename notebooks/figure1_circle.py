# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Circle data (Figure 1)
#
# The paper opens with a picture: points that live on a circle, observed through a non-linear
# map into $\mathbb{R}^{100}$. A VAE with a Gaussian latent space must place a circle into a
# plane with a Gaussian prior centred at the origin; the prior pulls the codes inward
# ("origin gravity") and the circle collapses or tears. A hyperspherical latent space is a
# circle to begin with.
#
# The data: an equal mixture of three von Mises on $S^1$ (mean angles $0, 2\pi/3, 4\pi/3$,
# concentration 10), lifted by a fixed random map $f(z) = \tanh(zA + a)B$ with Gaussian noise of
# standard deviation 0.1 (`hvae_lib.data.circle`). The paper does
# not state its map, means, concentrations or sizes: these are ours, fixed in the library so the
# figure is regenerated exactly.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from hvae_lib.experiments import figure1 as experiment
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table
from IPython.display import Markdown

use_style()
runs = experiment.figure1_runs(profile)

# %% tags=["remove-input"]
provenance_note(profile, experiment.figure1_store(profile))

# %% [markdown]
# Three models, each an MLP encoder and decoder (100-128-64, mirrored) with a Gaussian likelihood
# of the data's own noise scale: an N-VAE with a 2-D latent space, the same with the KL term
# down-weighted to $\beta = 0.1$, and an S-VAE whose latent space is the circle $S^1 \subset
# \mathbb{R}^2$. Each is trained several times (the runs of the table below); the panels show the
# posterior means of the test points under run 0, coloured by the mixture component they came from.

# %% tags=["remove-cell"]
fig = experiment.figure1(profile, runs)
save_figure(fig, "figure1_circle")
glue("figure1_circle", fig)

# %% [markdown]
# ```{glue:figure} figure1_circle
# :name: fig-figure1
#
# The circle data seen through three latent spaces. Top left: the true latent angles on $S^1$;
# then the posterior means of the same test points (latent coordinates $z_1$, $z_2$, no units)
# under run 0 of each model, coloured by the mixture component each point came from, with the
# model's test log-likelihood (nats, mean over runs).
# ```

# %% tags=["remove-input"]
table(experiment.figure1_table(runs), "test metrics in nats, mean ± sd over runs")

# %% tags=["remove-input"]
Markdown(
    "The log-likelihood (LL) is the IWAE estimate on held-out points. For scale, a model that knew "
    "each point's true latent position and the map exactly would score the noise's own "
    f"log-density, {experiment.true_log_likelihood_bound(profile):.2f} nats."
)

# %% [markdown]
# What the paper predicts: with $\beta = 1$ the prior's pull towards the origin should distort
# the N-VAE's circle; with $\beta = 0.1$ that pull weakens, at the price of an objective that is no
# longer the ELBO; the S-VAE's latent space is a circle by construction. What the committed `cpu`
# run shows is milder than the paper's picture: the N-VAE with $\beta = 1$ does not collapse the
# circle but bends it into a closed curve with corners, and its three components stay apart. The
# S-VAE keeps the three arcs in their order on the circle and has the best log-likelihood of the
# three in the table above; the down-weighted N-VAE has the worst, as an objective that is not the
# ELBO should. Our map, noise and mixture are not the paper's (which it does not state), so the
# size of the effect is ours too.
