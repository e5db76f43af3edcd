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
# # Unsupervised MNIST (Table 1)
#
# The paper's main quantitative claim: on dynamically binarised MNIST, the S-VAE (von Mises-Fisher
# posterior, uniform prior on $S^d$) has a better test log-likelihood than the N-VAE (Gaussian
# posterior and prior on $\mathbb{R}^d$) when the latent space is small ($d \le 10$), and a worse
# one when it is large ($d \ge 20$); its reconstruction term is better at every $d$.
#
# Here $d$ is the manifold dimension: the N-VAE latent is $\mathbb{R}^d$, the S-VAE latent $S^d$
# lives in $\mathbb{R}^{d+1}$. LL is the IWAE estimate {cite:p}`burda2016importance`
# $\log \frac{1}{K}\sum_k p(x|z_k)p(z_k)/q(z_k|x)$ on the test set, $\mathcal{L}[q]$ the ELBO,
# RE $= \mathbb{E}_q \log p(x|z)$ and KL $= \mathrm{KL}(q\|p)$, all in nats per image.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from hvae_lib.experiments import table1 as experiment
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table

use_style()
runs = experiment.table1_runs(profile)

# %% tags=["remove-input"]
provenance_note(profile, *(experiment.table1_store(p) for p in dict.fromkeys([profile, "full"])))

# %% [markdown]
# Every run is trained once and stored with its provenance; re-executing this chapter reads the
# stored runs.
#
# ## Protocol
#
# The paper does not state every setting. Where it is silent, the value below comes from the
# first author's own later training code (a 50,000 / 10,000 split of the 60,000 training images,
# batch 100, and early stopping that counts only after the 100-epoch warm-up and needs a gain of
# 0.01 nats); pythae's reproduction, trained 500 epochs without early stopping, reached the
# paper's $d = 10$ value, which says the LL at $d = 10$ is not very sensitive to these choices.
# All runs of one configuration train together as one vectorised ensemble in which every run
# keeps its own initialisation, random numbers and early stopping; the engine and its speed are
# described in the performance appendix.

# %% tags=["remove-input"]
table(experiment.protocol_table(profile))

# %% [markdown]
# Training runs the wide layers' matrix products in bfloat16 (float32 master weights, float32
# losses); evaluation (validation ELBO, IWAE, KL) is float32. That this changes nothing that the
# tables can see is checked next, on paired runs.
#
# ## Reduced precision is harmless
#
# The same runs (same seeds: the same initial parameters, batches and random numbers) trained
# once in float32 and once with bfloat16 matrix products, under the `cpu` profile: the mean
# paired difference of the test LL in each cell, against the run-to-run standard deviation (the
# quick test edition of this chapter runs the same comparison on its own tiny runs).

# %% tags=["remove-input"]
table(experiment.precision_ablation("smoke" if profile == "smoke" else "cpu"))

# %% [markdown]
# ## Results

# %% tags=["remove-input"]
table(experiment.table1_summary(runs, ("LL", "ELBO")))

# %% tags=["remove-input"]
table(experiment.table1_summary(runs, ("RE", "KL")))

# %% [markdown]
# Ours is the mean ± standard deviation over runs, the paper's its Table 1 (10 runs; the
# standard deviations of $\mathcal{L}[q]$ are not available). These tables and the figure below
# come from the profile this edition was executed with (the first line of the provenance box).
# Under any profile but `full` our runs use the reduced protocol of the table above, so absolute
# values are not comparable with the paper's; the comparison that matters is between the two
# models under the same protocol. The paper's protocol has its own section below.

# %% tags=["remove-cell"]
fig = experiment.table1_figure(runs)
save_figure(fig, "table1_metrics_vs_d")
glue("table1_metrics", fig)

# %% [markdown]
# ```{glue:figure} table1_metrics
# :name: fig-table1-metrics
#
# Test LL, reconstruction term RE and KL (nats per image) against the latent dimension $d$:
# ours under this edition's profile (a reduced budget unless it is `full`), mean ± sd over runs
# (solid), and the paper's Table 1 (dashed).
# ```
#
# ## Did the models converge?
#
# {numref}`fig-table1-curves` shows the validation ELBO after every epoch of every run. Flat
# curves at the end mean the budget was enough; curves still rising mean the numbers above
# measure the budget as much as the models.

# %% tags=["remove-cell"]
fig = experiment.learning_curves(profile, runs)
save_figure(fig, "table1_learning_curves")
glue("table1_curves", fig)

# %% [markdown]
# ```{glue:figure} table1_curves
# :name: fig-table1-curves
#
# Validation ELBO (nats per image) per epoch, median over runs (line) and range (band), for
# every $d$; the paper's test ELBO (dashed) and LL (dotted) for scale. The vertical axis runs
# from 10 nats below the lowest final median (at least 30 below the paper's ELBO) to 5 nats
# above the paper's LL, so early epochs may lie below it.
# ```
#
# ## The paper's claims, tested
#
# Welch's t-test on the per-run test metrics, S-VAE against N-VAE, at each $d$ (runs are
# independent models, so the design is unpaired), with Holm's correction {cite:p}`holm1979simple` over the table's ten
# tests. Under the paper's protocol (`full`) a claim is *confirmed* when the difference has the
# claimed sign and the corrected $p < 0.05$, and *refuted* when the opposite sign is
# significant; under a reduced budget the same outcomes read *holds* and *reversed*.

# %% tags=["remove-input"]
table(experiment.claims(runs, profile))

# %% [markdown]
# ## The paper's protocol, cell by cell
#
# The `full` profile trains the protocol of the table above at the paper's scale on this
# book's 2-core machine, one configuration at a time, each stored as it finishes. Where the CPU has no native bfloat16 (emulated, it is 20 times slower than
# float32 there), a cell is trained in float32; the last column says which precision each
# cell's runs used, and the ablation above finds the two within the run-to-run sd.

# %% tags=["remove-input"]
table(experiment.full_protocol_status())

# %% [markdown]
# The claims, tested as above on these runs only (the dimensions where both families have at
# least two runs at the paper's protocol; Holm's correction over these tests). The verdicts
# use the paper's words, *confirmed* and *refuted*, because these runs follow its protocol.

# %% tags=["remove-input"]
Markdown(experiment.full_protocol_progress())

# %% tags=["remove-input"]
table(experiment.full_protocol_claims())

# %% [markdown]
# ## What the importance samples add
#
# The test LL is the importance-weighted bound with 500 samples; the ELBO is the same bound
# with one. Their difference, the gain, says how much closer 500 samples of $q(z \mid x)$ come
# to $\log p(x)$ than one does. Both are in the paper's table, so the gain can be set beside
# ours in every cell of the paper's protocol (the `full` runs stored so far, whatever the
# profile of this edition).

# %% tags=["remove-input"]
table(experiment.importance_gain_table())

# %% tags=["remove-input"]
Markdown(experiment.importance_gain_finding())

# %% [markdown]
# The paper's gain grows with $d$ for both families, and for the S-VAE far more (to 10.39
# nats at $d = 40$, against 5.98 for its N-VAE). A gain depends on the estimator as much as on
# the model: on how the code evaluates $\log q(z \mid x)$ and $\log p(z)$ inside the weights.
# An error that makes $\log q$ too small, such as a vMF log-normaliser off at large $d$, raises
# every weight and so the LL, while an ELBO whose KL is computed in closed form stays put. The
# paper's experiment code is not public (see the audit chapter), so this explanation cannot be
# tested on its models. On ours, the LL changes little between 100 and 500 samples (the audit
# chapter's estimator table).

# %% [markdown]
# ## Reading the result
#
# The first claims table comes from the profile this edition was executed with. Under the `cpu`
# profile (30 epochs on 10,000 training images, 3 runs) every model is far below the paper's
# numbers and its learning curve is still rising at the last epoch, so those verdicts measure how
# fast each model learns, not where it ends. Only the claims table of the section on the
# paper's protocol tests the paper: it reads the `full` runs alone, with the run counts given
# there.
