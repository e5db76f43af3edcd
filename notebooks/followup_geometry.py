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
# # Why a 128-dimensional prior sample decodes to noise
#
# The follow-up paper ("Is the sparsity of high dimensional spaces the reason why VAEs are poor
# generative models?", {cite:p}`sparsity2025hyperspherical`) starts from a geometric observation: in $n = 128$ dimensions the
# standard normal prior puts its mass on a thin shell of radius $\sqrt n$, any two samples are
# nearly orthogonal, and a region around one direction holds a vanishing share of the sphere. A
# VAE whose codes fill only part of that shell leaves most prior samples far from anything the
# decoder was trained on. This chapter checks the geometry, exactly where it can be computed and
# by sampling where it cannot, and then asks the same questions of trained models.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from hvae_lib.experiments import followup_geometry as experiment
from hvae_lib.experiments.followup_compressed_vae import settings_note
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table
from hvae_lib.results import RunStore

use_style()

# %% tags=["remove-input"]
provenance_note(profile, RunStore("followup", profile))

# %% [markdown]
# ## Islands on the sphere
#
# Write $z = r\,(\cos\varphi_1, \sin\varphi_1\cos\varphi_2, \dots)$ in hyperspherical
# coordinates. The share of the sphere $S^{n-1}$ within angle $\theta \le \pi/2$ of a point is
#
# $$A_n(\theta) = \tfrac12\, I_{\sin^2\theta}\!\left(\tfrac{n-1}{2}, \tfrac12\right),$$
#
# with $I$ the regularised incomplete beta function (at $n = 3$ it is $(1 - \cos\theta)/2$).

# %% tags=["remove-cell"]
fig = experiment.cap_figure()
save_figure(fig, "followup_caps")
glue("followup_caps", fig)

# %% [markdown]
# ```{glue:figure} followup_caps
# :name: fig-followup-caps
#
# Share of the sphere $S^{n-1}$ within angle $\theta$ of a point, against the dimension $n$
# (both axes logarithmic), computed from the formula above.
# ```
#
# At $n = 128$ a cap of half-angle 60° holds $8 \times 10^{-10}$ of the sphere:

# %% tags=["remove-input"]
table(experiment.cap_table(), caption="Share of S^(n-1) within angle θ of a point")

# %% [markdown]
# ## Norms and overlaps concentrate
#
# For $z \sim \mathcal N(0, I_n)$ the norm $|z|$ follows the $\chi_n$ distribution, whose mean
# tends to $\sqrt{n - 1/2}$ and whose standard deviation tends to $\sqrt{1/2}$ whatever $n$; the
# cosine $q$ between two independent samples has mean 0 and standard deviation $1/\sqrt n$. The
# compressed VAE's loss uses exactly these values as its radius targets.

# %% tags=["remove-cell"]
fig = experiment.concentration_figure(profile)
save_figure(fig, "followup_concentration")
glue("followup_concentration", fig)

# %% [markdown]
# ```{glue:figure} followup_concentration
# :name: fig-followup-concentration
#
# Left: density of the scaled norm $|z|/\sqrt n$ of $z \sim \mathcal N(0, I_n)$; right: density
# of the overlap $q$ of two independent samples; one line per $n$ (seeded samples).
# ```

# %% tags=["remove-input"]
table(experiment.concentration_table(profile), caption="Norm and overlap of N(0, I_n): sampled against exact", digits=3)

# %% [markdown]
# ## Where prior samples land in a trained VAE
#
# The chapter after this one trains a standard β-VAE and the paper's compressed VAE on MNIST at
# $n = 128$ (its protocol is described there). Here we ask of their codes what the geometry
# suggests: are prior samples far from every training code, compared with how far test codes
# are? The compressed model's prior is the uniform distribution on its sphere of radius
# $\sqrt n$.

# %% tags=["remove-input"]
Markdown(f"Budget: {settings_note(profile)}")

# %% tags=["remove-input"]
table(experiment.prior_hole_table(profile), caption="Median distance to the nearest training code (n = 128, MNIST)")

# %% tags=["remove-input"]
Markdown(experiment.shell_note(profile))

# %% [markdown]
# A ratio far above 1 is the "prior hole": the decoder is asked to decode points unlike any it
# was trained on. The paper's claim C2 is that a standard VAE's codes are nevertheless
# distributed uniformly on a hypersphere, so that their angular statistics match the prior's.
# {numref}`fig-followup-moments` compares the mean and the spread of every $\cos\varphi_k$ of
# the test codes with the prior's values.

# %% tags=["remove-cell"]
fig = experiment.moments_figure(profile)
save_figure(fig, "followup_moments")
glue("followup_moments", fig)

# %% [markdown]
# ```{glue:figure} followup_moments
# :name: fig-followup-moments
#
# Mean (left) and standard deviation (right, logarithmic) over the MNIST test codes of
# $\cos\varphi_k$, for every angle index $k$ of the $n = 128$ standard and compressed VAEs (first
# run of each), against the values under the prior (dashed).
# ```
