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
# # Semi-supervised MNIST with K-NN (Table 2)
#
# The paper's second MNIST experiment asks whether the latent codes of the Table 1 models (the
# M1 of {cite:t}`kingma2014semisupervised`) make the digits easy to separate with very few labels: a K-nearest
# neighbour classifier sees the codes of 100, 600 or 1000 labelled training images and labels
# the 10,000 test images. The paper reports that the S-VAE's codes classify better at every
# $d \le 20$, most clearly at $d = 2$ to $10$; at $d = 40$ it stars the N-VAE with 100 labels
# and neither family with 600 or 1000. Each cell's verdict below tests the paper's own claim
# for that cell.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from hvae_lib.experiments import table1, table2 as experiment
from hvae_lib.experiments.table1 import table1_store
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table

use_style()
knn = experiment.table2_runs(profile)

# %% tags=["remove-input"]
provenance_note(profile, *(table1_store(p) for p in dict.fromkeys([profile, "full"])))

# %% [markdown]
# ## Protocol
#
# The paper does not say which $k$, which distance or how the labelled points were drawn. We
# follow the first author's own later code and Kingma et al.'s setting:
#
# - **codes**: posterior means (N-VAE) and mean directions (S-VAE) of every Table 1 model, on
#   its training and test images binarised once with a fixed seed;
# - **labels**: class-balanced ($n/10$ per class), drawn without replacement from the training
#   split; 20 draws, the same 20 for every model, so N-VAE and S-VAE see the same labelled images;
# - **$k = 1$** is the headline (the first author's default); $k = 5$ and $10$ are in the
#   sensitivity table (majority vote, ties to the nearest);
# - **distance**: arc length on the sphere for the S-VAE (on unit vectors arc length, cosine and
#   Euclidean distance rank neighbours identically); Euclidean for the N-VAE, cosine as a check.
#
# One Table 1 model gives 20 accuracies per label budget. The trained model is the unit of
# replication: the test of S-VAE against N-VAE compares the per-model means (each averaged over
# the same 20 draws) with Welch's t-test, and Holm's correction runs over the table's cells.

# %% [markdown]
# ## Results

# %% tags=["remove-input"]
table(experiment.table2(knn, profile))

# %% [markdown]
# Ours is the mean ± sd of one (model, label draw) pair over all models and draws; the
# paper's values are its Table 2 (means only; it reports 20 runs). Under a reduced profile, the
# words "holds" and "reversed" say that the outcome belongs to that budget, not to the paper's
# protocol.

# %% [markdown]
# ## At the paper's protocol
#
# The same table from the models trained under the paper's protocol (its Table 1 runs stored so
# far, whichever profile this edition was executed with), at the dimensions where both families
# have at least two of them; Holm's correction runs over these cells. Only this table tests
# the paper.

# %% tags=["remove-input"]
Markdown(table1.full_protocol_progress())

# %% tags=["remove-input"]
table(experiment.full_protocol_table())

# %% tags=["remove-cell"]
fig = experiment.table2_figure(knn)
save_figure(fig, "table2_knn_vs_d")
glue("table2_knn", fig)

# %% [markdown]
# ```{glue:figure} table2_knn
# :name: fig-table2-knn
#
# 1-NN test accuracy (%) against the latent dimension $d$ for 100, 600 and 1000 labels: ours,
# mean ± sd over models of each model's mean over the 20 label draws (solid), and the paper's
# Table 2 (dashed).
# ```
#
# ## Where the spread comes from
#
# Two things move a cell's accuracy: which model was trained and which images happen to be
# labelled. The spread of one (model, draw) pair splits into a model-to-model part and a
# label-draw part (a one-way random-effects decomposition over the models x draws grid).

# %% tags=["remove-cell"]
fig = experiment.spread_figure(knn, labels=100)
save_figure(fig, "table2_knn_spread")
glue("table2_spread", fig)

# %% [markdown]
# ```{glue:figure} table2_spread
# :name: fig-table2-spread
#
# 1-NN test accuracy (%) with 100 labels of every trained model (one box each, its 20 label
# draws as dots; N-VAE models in blue, S-VAE in orange) for each latent dimension $d$. The
# height of a box is the label-draw spread; how far the boxes of one family scatter is the
# model-to-model spread.
# ```
#
# The table puts numbers on both parts for every cell.

# %% tags=["remove-input"]
table(experiment.spread_table(knn))

# %% [markdown]
# ## Sensitivity to $k$ and to the distance

# %% tags=["remove-input"]
table(experiment.sensitivity_table(knn))

# %% [markdown]
# Mean accuracy (%) over models and draws; "S eucl." is the S-VAE with arc length (the same
# neighbours as Euclidean on the sphere), "N cosine" the N-VAE with cosine distance.
