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

# %% tags=["remove-cell"]
# On Colab only: fetch the book's library and what Colab lacks, keeping Colab's own torch.
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.exists("/content/hvae"):
    subprocess.run(["git", "clone", "--depth=1", "https://github.com/hvae-book/hyperspherical-vae", "/content/hvae"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "torch_geometric==2.8.1", "power-spherical==0.8.1"], check=True)
    sys.path.insert(0, "/content/hvae")

# %% [markdown]
# # Unsupervised MNIST (Table 1)
#
# The paper's main quantitative claim: on dynamically binarised MNIST, the S-VAE (von Mises-Fisher
# posterior, uniform prior on $S^d$) has a better test log-likelihood than the N-VAE (Gaussian
# posterior and prior on $\mathbb{R}^d$) when the latent space is small ($d \le 10$), and a worse
# one when it is large ($d \ge 20$); its reconstruction term is better at every $d$.
#
# Here $d$ is the manifold dimension: the N-VAE latent is $\mathbb{R}^d$, the S-VAE latent $S^d$
# lives in $\mathbb{R}^{d+1}$. LL is the IWAE estimate
# $\log \frac{1}{K}\sum_k p(x|z_k)p(z_k)/q(z_k|x)$ on the test set, $\mathcal{L}[q]$ the ELBO,
# RE $= \mathbb{E}_q \log p(x|z)$ and KL $= \mathrm{KL}(q\|p)$.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from hvae_lib.experiments import table1 as experiment
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import provenance_note
from IPython.display import display

use_style()

# %% [markdown]
# Every run is trained once and cached under `results/table1/<profile>/`; re-executing this
# chapter reads the cache.

# %%
runs = experiment.table1_runs(profile)
provenance_note(profile, experiment.table1_store(profile))

# %% [markdown]
# ## Protocol
#
# All runs of one configuration train together as one vectorised ensemble (stacked parameters,
# one batched matmul per layer), which is equivalent to separate runs. The profile sets the size
# of the experiment; `full` is the paper's protocol.

# %%
experiment.protocol_table(profile)

# %% [markdown]
# How much the ensemble saves is measured by `benchmarks/ensemble.py`: training throughput
# (runs x images per second) of one ensemble of R runs against the same R models stepped one
# after another, in the same process, and the ensemble's step time against a floor (the MLPs'
# forward and backward passes alone).

# %%
stored = experiment.ensemble_benchmark("cpu")
if stored is None:
    print("benchmarks/ensemble.py has not been run on this machine")
else:
    table, meta = stored
    print(f"{meta['device']}, torch {meta['torch']}, commit {meta['commit']}, {meta['date']}, "
          f"batch {meta['batch']}, d = {meta['d']}, median of {meta['steps']} steps")
    display(table)

# %% [markdown]
# ## Results

# %%
experiment.table1_summary(runs, ("LL", "ELBO"))

# %%
experiment.table1_summary(runs, ("RE", "KL"))

# %% [markdown]
# Ours is the mean ± standard deviation over runs; the paper's numbers are its Table 1 (10 runs);
# "seed repro." is an earlier reproduction's published LL (5 runs on 10% of the data, with the
# defects listed in the critique chapter). Unless the provenance box above says `full`, our runs
# use a reduced protocol (less data, fewer epochs and importance samples), so absolute values are
# not comparable with the paper's; the comparison that matters is between the two models under the
# same protocol.

# %%
fig = experiment.table1_figure(runs)
save_figure(fig, "table1_metrics_vs_d")

# %% [markdown]
# ## The paper's claims, tested
#
# Welch's t-test on the per-run metrics, S-VAE against N-VAE, at each $d$. A claim is
# *confirmed* when the difference has the claimed sign and $p < 0.05$, *refuted* when the opposite
# sign is significant, and *not significant* otherwise (with few runs, a real difference can stay
# undetected).

# %%
experiment.claims(runs)

# %%
experiment.welch_tests(runs)

# %% [markdown]
# ## Reading the result
#
# Under the `cpu` profile (30 epochs on 10,000 training images, 3 runs), every model is far from
# the paper's numbers (compare the LL columns). At $d = 2$ the S-VAE has the better
# log-likelihood, as the paper says; from $d = 5$ on it falls further behind as $d$ grows, so the
# claims that need it to win at $d = 5$ and $d = 10$ come out refuted, while "N-VAE better for
# $d \ge 20$" is confirmed by a wide margin, and the S-VAE's reconstruction term is never
# significantly better. This is not yet evidence against the
# paper: its protocol trains up to 500 epochs with a 100-epoch KL warm-up on 55,000 images, and
# how quickly each model converges is exactly what a short budget measures instead. The `full`
# profile runs the paper's protocol (10 runs, IWAE with 500 samples); it needs a GPU and has not
# been run for this edition of the book, so the verdicts above are the reduced protocol's.
