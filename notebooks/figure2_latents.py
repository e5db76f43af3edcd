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
# # MNIST in two dimensions (Figure 2)
#
# With $d = 2$, both latent spaces can be looked at directly: the N-VAE's codes in the plane,
# the S-VAE's on the sphere $S^2$. The paper's Figure 2 shows the S-VAE spreading the digit
# classes over the whole sphere, while the N-VAE packs them around the origin.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from hvae_lib.experiments import figure2 as experiment
from hvae_lib.experiments.table1 import table1_store
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note

use_style()
fig = experiment.figure2(profile)
save_figure(fig, "figure2_mnist_latents")
glue("figure2_latents", fig)

# %% tags=["remove-input"]
provenance_note(profile, table1_store(profile))

# %% [markdown]
# The codes are the posterior means (N-VAE) and mean directions (S-VAE) of the test digits under
# run 0 of the $d = 2$ models of [Table 1](table1_mnist.ipynb), coloured by class (the labels are
# never used in training). The middle panel is the Hammer equal-area projection of the sphere:
# equal areas on the sphere stay equal in the picture, so the density of points is not distorted;
# the right panels look at the two halves of the sphere from outside.
#
# ```{glue:figure} figure2_latents
# :name: fig-figure2
#
# Test digits in the $d = 2$ latent spaces, coloured by class. Left: N-VAE posterior means in
# $\mathbb{R}^2$ (latent coordinates, no units). Middle: S-VAE mean directions on $S^2$ in the
# Hammer equal-area projection (the ellipse is the whole sphere). Right: the same directions on
# the hemispheres $z_0 > 0$ and $z_0 < 0$, each seen from outside along the $z_0$ axis.
# ```
#
# The uniform prior on the sphere has no centre to pull towards: the S-VAE is free to use the
# whole surface, and classes that the N-VAE superimposes near the origin get their own regions.
