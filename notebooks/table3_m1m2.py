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
# # Semi-supervised MNIST with M1+M2 (Table 3)
#
# The paper's third MNIST experiment stacks the unsupervised model of Table 1 (M1) under the
# semi-supervised M2 of {cite:t}`kingma2014semisupervised` and trains M2 on M1's codes with 100
# labelled images. It compares three pairings, named by M1's latent and then M2's: **N+N**
# (Kingma's own model), **S+S** and **S+N**, for $z_1, z_2 \in \{5, 10, 50\}$. The paper
# reports that a hyperspherical M1 helps (S+N best in most cells, up to 97.4% test accuracy
# against N+N's 93.2% at $z_1 = z_2 = 50$).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from hvae_lib.experiments import table3 as experiment
from hvae_lib.experiments import table3_joint, table3_selection
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table

use_style()
runs = experiment.chapter_runs(profile)

# %% tags=["remove-input"]
provenance_note(profile, experiment.table3_store(profile), experiment.m1_store(profile), table3_joint.joint_store(profile))

# %% tags=["remove-input"]
Markdown(experiment.status(profile, runs))

# %% [markdown]
# ## Protocol
#
# The paper gives the grid and little else: not the number of labels, whether M1 is frozen,
# M2's width, its epochs, the runs behind a cell or how a model is selected. Where it is silent
# we follow Kingma's code, which the paper names:
#
# - **M1** is one Table 1 model per family and $z_1$ (seed 0, Table 1's protocol), frozen. Its
#   posterior on every image, binarised once as for Table 2, is M2's data: during training a
#   fresh $z_1 \sim q(z_1 \mid x)$ is drawn for every minibatch, and validation and test use
#   the posterior mean (the mean direction for the S-VAE).
# - **Pruning**: the normal M1's coordinates whose posterior means vary little over the
#   training images (sd below 0.1) are dropped, as Kingma does; a hyperspherical code is one
#   direction and is kept whole.
# - **M2** has one hidden layer of 500 softplus units in each of $q(y \mid z_1)$,
#   $q(z_2 \mid z_1, y)$ and $p(z_1 \mid y, z_2)$, the last a diagonal Gaussian on $z_1$'s
#   coordinates (on the ambient $\mathbb{R}^{z_1 + 1}$ coordinates when M1 is hyperspherical).
#   Its latent $z_2$ is Gaussian with a standard normal prior (second letter N) or vMF with a
#   uniform prior on $S^{z_2}$ (second letter S).
# - **Objective**: the labelled bound plus $\beta \log q(y \mid z_1)$ with
#   $\beta = 0.1 \cdot 50{,}000 / 100 = 50$, and for unlabelled images the bound summed over all
#   ten classes weighted by $q(y \mid z_1)$ plus its entropy; analytic KL terms.
# - **Training**: 100 minibatches per epoch, each with 1 labelled and 499 unlabelled images
#   (every labelled image once per epoch); Adam with learning rate $3 \cdot 10^{-4}$.
# - **Precision**: under the `cpu` profile the hidden layers of $q(z_2 \mid z_1, y)$ and
#   $p(z_1 \mid y, z_2)$, evaluated for ten classes per unlabelled image and so nearly all of
#   the cost, run in bfloat16 (matmuls accumulated in float32); $q(y \mid z_1)$, which alone
#   makes the predictions, stays in float32. The precision check below compares it with float32
#   on the same runs. A CPU without native bfloat16 (AVX2 only) emulates it, and there M2 is
#   about three times faster in float32 (one minibatch: 235 ms against 733 ms), so runs
#   trained on such a CPU use float32; the status line above says which precision the runs used.
# - **Labels**: 100, ten per class, drawn from the 50,000 training images; each run draws its
#   own labelled set and its own M2 initialisation.
# - **Accuracy** is that of $\arg\max_y q(y \mid \bar z_1)$ on the 10,000 test images after the
#   last epoch: no matching of clusters to classes and no selection on validation accuracy,
#   which with 10,000 labelled validation images would not be semi-supervised.
#
# ## The anchor: Kingma's own M1+M2
#
# Before any hyperspherical variant is read, the same M2 code trained on Kingma's M1
# (784-600-600-50, softplus, batch 500, no warm-up) must land near Kingma's 100-label accuracy,
# or, under a smaller budget, near where a faithful port of his code stood after as many epochs.
# A shortfall here would be a defect of this M2, not a finding about the hypersphere.

# %% tags=["remove-input"]
table(experiment.anchor_table(profile, runs))

# %% tags=["remove-cell"]
fig = experiment.anchor_figure(profile, runs)
save_figure(fig, "table3_anchor")
glue("table3_anchor", fig)

# %% [markdown]
# ```{glue:figure} table3_anchor
# :name: fig-table3-anchor
#
# Test accuracy (%) with 100 labels of Kingma's M1+M2 against M2's training epoch (log scale):
# this book's runs (thin) and their mean (thick), the faithful PyTorch port's reported points
# (one run), and Kingma et al.'s final accuracy after 3000 epochs (dashed, its ± as a band).
# ```

# %% tags=["remove-input"]
Markdown(experiment.anchor_reading(profile, runs))

# %% [markdown]
# ## Precision check
#
# The same runs (same labelled images, initialisation and random numbers) trained with M2's
# hidden layers in float32 and in bfloat16: final test accuracy (%), the paired difference
# (mean ± sd over runs) and a paired t-test. bfloat16 is harmless where the difference is well
# inside the run-to-run sd.

# %% tags=["remove-input"]
table(experiment.precision_ablation(profile))

# %% [markdown]
# ## Pruning check
#
# Kingma drops the coordinates of a normal M1 whose posterior means barely vary over the
# training images (sd below 0.1) before M2 sees them. The same runs (same labelled images)
# with every coordinate kept: final test accuracy (%), the paired difference and a paired
# t-test.

# %% tags=["remove-input"]
table(experiment.pruning_ablation(profile))

# %% [markdown]
# ## Results
#
# Final test accuracy (%), mean ± sd over runs with the number of runs in brackets, next to the
# paper's Table 3; the paper's best values in a row carry a star. The paper gives no sd and no
# number of runs.

# %% tags=["remove-input"]
table(experiment.table3_table(profile, runs))

# %% [markdown]
# %% tags=["remove-input"]
Markdown(experiment.results_reading(profile, runs))

# %% [markdown]
# The paper's claim that S+N is best, cell by cell: S+N against each other pairing, Welch's
# test on the runs' final accuracies (two-sided, so that a significant difference either way is
# read), Holm-corrected over every test of the table. Under a reduced budget the verdicts say
# so; "confirmed" and "refuted" are kept for the full protocol.

# %% tags=["remove-input"]
table(experiment.best_pairing_tests(profile, runs))

# %% [markdown]
# ## Scoring with Hungarian matching
#
# The earlier reproduction {cite:p}`hvae_reproduction` (audited in the critique chapters)
# reached 61-76% on this table against the paper's 90-97%. It scored its M1+M2 after matching
# the predicted classes to the labels (the Hungarian algorithm on the test confusion matrix). A
# classifier trained with labels names its classes already; matching lets a model that swaps
# two digits score as if it had not. The first table compares the two scores of the same runs
# (those that stored their test confusion matrix) per pairing; the second, shown on request,
# gives them cell by cell.

# %% tags=["remove-input"]
table(experiment.matching_by_pairing(profile, runs))

# %% tags=["remove-input", "hide-output"]
table(experiment.matching_table(profile, runs))

# %% [markdown]
# ## Training M1 and M2 together
#
# The earlier reproduction did not freeze M1: it trained M1 and M2 together from scratch, the
# loss of a minibatch the sum of M1's negative ELBO and M2's negative bound, with M2's gradient
# flowing through the sampled $z_1$ into M1's encoder. Here that one change is made and nothing
# else: the same labelled images, M2 initialisation, minibatches, epochs and scoring as the
# frozen runs of the same cell, and a fresh M1 of Table 1's architecture (no pruning, since its
# coordinates change as it trains). Final test accuracy (%), the difference paired by run and a
# paired t-test.

# %% tags=["remove-input"]
table(table3_joint.joint_ablation(profile, runs))

# %% tags=["remove-cell"]
fig = experiment.curves_figure(profile, runs)
save_figure(fig, "table3_curves")
glue("table3_curves", fig)

# %% [markdown]
# ```{glue:figure} table3_curves
# :name: fig-table3-curves
#
# Test accuracy (%) of M2 against its training epoch, per cell ($z_1$, $z_2$) and pairing
# (colour), the mean over runs; Kingma's M1+M2 dashed in the $z_1 = z_2 = 50$ panel. The
# paper's epoch budget is unknown: its N+N row (90.0-93.2%) lies where a faithful port of
# Kingma's model is after 100 to 300 epochs (87.2% and 94.9%), not after 3000 (97.2%).
# ```

# %% [markdown]
# ## The last epoch or the best one
#
# Table 3 scores each run after its last M2 epoch. Where a curve of
# {numref}`fig-table3-curves` peaks early and falls, that score says as much about the epoch
# budget as about the pairing. Here each run is also read at the epoch of its highest validation
# accuracy (evaluated every few epochs). That choice reads the labels of every validation image
# (10,000 under Table 1's full protocol), which a problem with 100 labels would not have, so it
# is a check on the ranking, not a score to report.

# %% tags=["remove-input"]
Markdown(table3_selection.selection_reading(profile, runs))

# %% tags=["remove-input"]
table(table3_selection.selection_table(profile, runs))
