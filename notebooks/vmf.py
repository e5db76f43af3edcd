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
# # The von Mises-Fisher distribution
#
# The S-VAE replaces the Gaussian posterior and prior of a VAE by a von Mises-Fisher (vMF)
# posterior and a uniform prior on the unit sphere $S^{m-1} \subset \mathbb{R}^m$. This chapter
# shows the distribution, the reason for wanting it, the sampler that makes it trainable, the
# numerical trap in its normaliser, and what our implementation costs next to its peers.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from hvae_lib.experiments import vmf_chapter as experiments
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table

use_style()
provenance_note(profile)

# %% [markdown]
# ## The density
#
# For a mean direction $\mu$ ($\|\mu\| = 1$) and a concentration $\kappa \ge 0$,
#
# $$
# q(z \mid \mu, \kappa) = C_m(\kappa)\, e^{\kappa \mu^\top z}, \qquad
# C_m(\kappa) = \frac{\kappa^{m/2-1}}{(2\pi)^{m/2} I_{m/2-1}(\kappa)},
# $$
#
# with respect to the surface measure of $S^{m-1}$; $I_v$ is the modified Bessel function of the
# first kind. At $\kappa = 0$ it is the uniform distribution, and as $\kappa$ grows it
# concentrates around $\mu$. The figure draws samples on $S^2$ ($m = 3$) in the Hammer
# equal-area projection (the cross is $\mu$).

# %% tags=["remove-cell"]
fig = experiments.sphere_samples_figure(profile)
save_figure(fig, "vmf_sphere_samples")
glue("vmf_sphere", fig)

# %% [markdown]
# ```{glue:figure} vmf_sphere
# :name: fig-vmf-sphere
#
# Samples of vMF($\mu$, $\kappa$) on $S^2$ for three concentrations, in the Hammer equal-area
# projection of the sphere (the ellipse is the whole sphere, the cross is $\mu$).
# ```

# %% [markdown]
# Its KL divergence to the uniform prior has a closed form,
#
# $$
# \mathrm{KL}\big(q \,\|\, U(S^{m-1})\big) = \kappa A_m(\kappa) + \log C_m(\kappa)
# + \log \frac{2 \pi^{m/2}}{\Gamma(m/2)}, \qquad A_m(\kappa) = \frac{I_{m/2}(\kappa)}{I_{m/2-1}(\kappa)},
# $$
#
# where $A_m(\kappa) = \mathbb{E}[\mu^\top z]$ is the mean resultant length. It depends on $\kappa$
# only, not on $\mu$: this is the property the paper builds on.
#
# ## Why not a Gaussian prior
#
# **Origin gravity.** With a Gaussian posterior $N(\mu, \sigma^2 I)$ and the prior $N(0, I)$, the
# KL term is $\tfrac12(\|\mu\|^2 + d\sigma^2 - d - 2d\log\sigma)$: every code pays
# $\|\mu\|^2/2$ for being away from the origin, so the prior pulls all codes towards one point, and
# in few dimensions clusters of different classes get squeezed together there. The vMF's KL to
# the uniform prior is flat in the direction of the code (right, computed with
# `kl_divergence`): no point of the sphere is preferred.

# %% tags=["remove-cell"]
fig = experiments.origin_gravity_figure(profile)
save_figure(fig, "vmf_origin_gravity")
glue("vmf_gravity", fig)

# %% [markdown]
# ```{glue:figure} vmf_gravity
# :name: fig-vmf-gravity
#
# The KL term (nats) against the position of the code. Left: a Gaussian posterior against the
# prior $N(0, I)$, growing with the distance of its mean from the origin. Right: a vMF posterior
# against the uniform prior on the sphere, flat in the direction of its mean.
# ```

# %% [markdown]
# **The soap bubble.** In high dimensions the standard Gaussian is nearly a sphere itself: the
# norm of $z \sim N(0, I_d)$ has mean close to $\sqrt d$ and a standard deviation that stays
# close to $1/\sqrt 2$, so its mass lies on a thin shell. In one or two dimensions it is the
# opposite, a blob around the origin.

# %% tags=["remove-cell"]
fig = experiments.soap_bubble_figure(profile)
save_figure(fig, "vmf_soap_bubble")
glue("vmf_bubble", fig)
bubble = experiments.soap_bubble_table(profile)

# %% [markdown]
# ```{glue:figure} vmf_bubble
# :name: fig-vmf-bubble
#
# Histograms of the norm $\|z\|$ of $z \sim N(0, I_d)$ for several $d$, with $\sqrt d$ marked: in
# many dimensions the mass lies on a thin shell, in one or two it is a blob around the origin.
# ```

# %% tags=["remove-input"]
table(bubble, digits=3)

# %% tags=["remove-input"]
low, high = bubble.index.min(), bubble.index.max()
display(Markdown(
    f"Within 10% of $\\sqrt d$ lie {bubble.loc[high, 'share within 10% of sqrt(d)']:.0%} of the draws at "
    f"$d = {high}$ but {bubble.loc[low, 'share within 10% of sqrt(d)']:.0%} at $d = {low}$, where "
    f"{bubble.loc[low, 'share with |z| < 0.5']:.0%} lie within 0.5 of the origin. A hyperspherical latent space "
    "therefore changes most in low dimensions; in high dimensions the Gaussian is close to a sphere already, which "
    "is consistent with the paper's finding that the S-VAE's advantage shrinks and reverses as $d$ grows."
))

# %% [markdown]
# ## The sampler in pictures
#
# Sampling follows the paper's Algorithm 1: draw $w = \mu^\top z$ from its marginal
#
# $$
# g(w \mid \kappa) \propto e^{\kappa w} (1 - w^2)^{(m-3)/2}, \qquad w \in [-1, 1],
# $$
#
# draw a direction $v$ uniformly on $S^{m-2}$, form $z' = (w, \sqrt{1 - w^2}\, v)$, and rotate
# $e_1$ onto $\mu$ with a Householder reflection. For $m = 3$ the marginal has a closed-form
# inverse CDF; otherwise $w$ comes from the rejection sampler of {cite:t}`wood1994simulation` (Algorithm 2): propose
# $\varepsilon \sim \mathrm{Beta}(\tfrac{m-1}2, \tfrac{m-1}2)$, map it to
# $w = h(\varepsilon, \kappa)$, and accept with a probability computed from $t = 2ab/(1 - (1-b)\varepsilon)$.
# Reparameterisation keeps the accepted $\varepsilon$ fixed, so gradients reach $\kappa$ through
# $h$. Below, histograms of $w$ from `VonMisesFisher.rsample` against the normalised density $g$.

# %% tags=["remove-cell"]
fig = experiments.w_marginal_figure(profile)
save_figure(fig, "vmf_w_marginal")
glue("vmf_w", fig)

# %% [markdown]
# ```{glue:figure} vmf_w
# :name: fig-vmf-w
#
# Histograms of $w = \mu^\top z$ from `VonMisesFisher.rsample` against the normalised density
# $g(w \mid \kappa)$ (lines), for several ambient dimensions $m$ and concentrations $\kappa$.
# ```

# %% [markdown]
# The rejection step wastes proposals; how many? The acceptance rate is computed two ways: as the
# share of accepted proposals, with proposals and the acceptance test exactly as the sampler draws
# and applies them (dots), and as the expected acceptance probability by quadrature (lines).

# %% tags=["remove-cell"]
rates = experiments.acceptance_rates(profile)
fig = experiments.acceptance_figure(rates)
save_figure(fig, "vmf_acceptance")
glue("vmf_acceptance", fig)

# %% [markdown]
# ```{glue:figure} vmf_acceptance
# :name: fig-vmf-acceptance
#
# Acceptance rate of the rejection sampler against $\kappa$ for several $m$: the share of
# accepted proposals as the sampler draws them (dots) and the expected acceptance probability by
# quadrature (lines).
# ```

# %% tags=["remove-input"]
worst = rates.loc[rates.exact.idxmin()]
deviation = ((rates.monte_carlo - rates.exact).abs() / rates.se).max()
display(Markdown(
    f"Over the grid ($\\kappa$ from {rates.kappa.min():g} to {rates.kappa.max():g}, $m$ in "
    f"{{{', '.join(str(m) for m in sorted(rates.m.unique()))}}}) the lowest acceptance rate is "
    f"{worst.exact:.3f} (at $m = {worst.m:.0f}$, $\\kappa = {worst.kappa:.3g}$): fewer than "
    f"{1 / worst.exact:.2f} proposals per sample on average. The counted rates agree with the quadrature within "
    f"{deviation:.1f} standard errors. The rate is 1 at small $\\kappa$, falls around $\\kappa \\approx m$, and "
    "levels off for large $\\kappa$: the sampler does not degrade with concentration."
))

# %% [markdown]
# ## Numerics: the Bessel function in the normaliser
#
# The official implementation evaluates $C_m(\kappa)$ and $A_m(\kappa)$ with the exponentially
# scaled `scipy.special.ive(v, κ)` $= I_v(\kappa) e^{-\kappa}$, on the CPU, in the training dtype
# (float32). For small $\kappa$ and large order, $I_v(\kappa) \approx (\kappa/2)^v / \Gamma(v+1)$ is
# tiny, `ive` returns 0, its logarithm is $-\infty$ and the KL is infinite or NaN. Our
# `log_bessel_iv` works with $\log I_v$ directly (series and Debye expansions, see
# `hvae_lib.special`), so nothing underflows.

# %% tags=["remove-cell"]
fig = experiments.bessel_underflow_figure(profile)
save_figure(fig, "vmf_bessel_underflow")
glue("vmf_bessel", fig)

# %% [markdown]
# ```{glue:figure} vmf_bessel
# :name: fig-vmf-bessel
#
# Left: $\log \mathrm{ive}(v, \kappa) = \log I_v(\kappa) - \kappa$ with $v = m/2 - 1$, against the
# ambient dimension $m$, by float32 `scipy.special.ive` (crosses; triangles where it returns 0)
# and by the book's `log_bessel_iv` from float32 input (lines). Right: relative error of the
# float32 KL by the official formula (dashed; triangles where NaN or infinite) and by ours
# (solid), against our float64 KL.
# ```

# %% tags=["remove-input"]
table(experiments.underflow_onsets(profile))

# %% [markdown]
# The table lists, for each $\kappa$ of the figure, the first $m$ on the grid where float32 `ive`
# is 0 and where the official KL stops being finite. Before it fails outright, the official
# float32 KL loses accuracy (dashed lines, right), because it subtracts large terms
# ($(m/2 - 1)\log\kappa$ and $\log$ `ive`) that nearly cancel. A few points against
# 50-digit mpmath:

# %% tags=["remove-input"]
table(experiments.kl_accuracy_display(profile))

# %% [markdown]
# ## Speed and correctness next to the peers
#
# How fast this sampler and KL are, against the official algorithm, scipy and the Power
# Spherical distribution, and which of them return correct samples, is measured by
# `benchmarks/vmf.py` and shown in the [performance appendix](performance.ipynb).
