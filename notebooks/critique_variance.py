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
# # Variance and significance: how many runs does each claim need?
#
# The paper reports every number as a mean ± something over 10 or 20 runs and marks which
# differences it considers significant, without saying what the ± is or which test it used. The
# earlier reproduction {cite:p}`hvae_reproduction` suspected that five runs were too few to
# settle its disagreements. This chapter asks of every comparison in Tables 1, 2 and 4: how
# much do runs spread, which test does the design call for, how many runs would detect the
# paper's difference, and could the paper's own runs have supported its claims?

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from hvae_lib.experiments import critique_variance as variance
from hvae_lib.experiments import seed_sensitivity as sensitivity
from hvae_lib.experiments.critique_audit import MODEL_PROFILE
from hvae_lib.experiments.table1 import table1_store
from hvae_lib.plotting import use_style
from hvae_lib.report import provenance_note, table
from hvae_lib.results import RunStore

use_style()
models = MODEL_PROFILE[profile]
table4_cells = variance.table4_cells(profile)
seed_runs = sensitivity.chapter_runs(profile)

# %% tags=["remove-input"]
provenance_note(profile, table1_store(models), RunStore("table4", profile), RunStore("table4_randomness", profile), RunStore("seed_sensitivity", profile))

# %% [markdown]
# Tables 1 and 2 are read from the Table 1 models named in the provenance note (those of the
# paper's protocol wherever the book is built from its committed results; each row says how many
# runs it has, and not every cell has the paper's 10 yet). Table 4 is read from this edition's
# link-prediction runs.
#
# ## The tests the designs call for
#
# - **Table 1**: every run is an independently trained model, and N-VAE run $i$ has nothing in
#   common with S-VAE run $i$. The test is Welch's unpaired t-test on the per-run values.
# - **Table 2**: the unit of replication is still the trained model. Each model's accuracy is its
#   mean over the same 20 label draws, so the draws' noise is averaged before the test; Welch's
#   test again.
# - **Table 4**: run $i$ of both models trains and is tested on the same edge split $i$. The
#   design is paired, and the paired t-test removes the split-to-split spread the two models
#   share.
#
# Every table gives the sd over runs of each family, the S − N difference with a 95% percentile
# bootstrap interval (10,000 resamples of runs, or of pairs), the share of (S, N) pairs of runs in
# which the S-VAE is better (Table 4: the runs it wins), the p-value and its Holm correction
# {cite:p}`holm1979simple` within the table. The last two columns give the paper's difference and
# the runs per family that would detect it with 80% power at $\alpha = 0.05$ (two-sided), given
# our sd (for Table 4, the sd of the paired differences).
#
# ### Table 1: test log-likelihood and reconstruction

# %% tags=["remove-input"]
table(variance.table1_cells(profile))

# %% [markdown]
# ### Table 2: 1-NN accuracy (%)

# %% tags=["remove-input"]
table(variance.table2_cells(profile))

# %% [markdown]
# ### Table 4: link prediction (%)

# %% tags=["remove-input"]
table(table4_cells)

# %% [markdown]
# ## Could the paper's own runs have supported its claims?
#
# Read as standard deviations over 10 runs, the paper's ± let us run Welch's test on its own
# summary statistics. Table 2 reports no ±, so its claims cannot be checked this way.

# %% tags=["remove-input"]
table(variance.paper_support())

# %% [markdown]
# The last column says which comparisons the paper's own runs support on its own terms. The
# question that remains is whether its ± describe the same kind of spread as ours.
#
# ## What are the paper's ±?
#
# On Table 4 our run-to-run sds (the sd columns above) are far larger than the paper's ± of
# 0.0-0.5 points. Three explanations predict different sizes:
#
# - **± is a standard error**, the sd divided by $\sqrt{10}$;
# - **the runs shared one edge split**, so only the initialisation and the training noise vary;
# - **fewer sources of randomness still**: one split and one initialisation, only the training
#   noise varying.
#
# We reran the Table 4 models on Cora, 10 seeds per design, with the edge split (and then the
# initial parameters as well) fixed to those of seed 0; everything else is Table 4's protocol.

# %% tags=["remove-input"]
table(variance.plus_minus_explanations(profile))

# %% [markdown]
# Per explanation, the median ratio of our value to the paper's ± over the cells that were
# run (a ratio near 1 fits; the paper's ± 0.0 on PubMed are left out):

# %% tags=["remove-input"]
table(variance.closest_explanation(profile))

# %% tags=["remove-input"]
Markdown(variance.plus_minus_verdict(profile))

# %% [markdown]
# ## Which source of randomness makes the spread?
#
# A run's randomness has four sources: the initial parameters (initialisation), the order of
# the minibatches (order), the dynamic binarisation of each image (binarization) and the
# posterior samples of the reparameterised bound (noise). The training engine seeds each from its own generator, so one source can be varied
# while the others are held at run 0's values. At one cheap cell, the N-VAE at $d = 2$ on the
# first 5,000 training images under Table 1's protocol (float32 matrix products), each design
# trains 10 runs that differ in its source alone; "everything" is the ordinary design, where
# all four differ. The test-set estimate uses the same evaluation seed in every run, so the
# spread is that of training. Each design's sd is set against the sd with everything varied:
# their ratio with its 95% interval and the F test of equal variances (both assume normally
# distributed log-likelihoods over runs), Holm-corrected over the four sources. With 10 runs
# per design the interval of a ratio spans about a factor of 2 either way, so only a source
# that makes much less (or much more) spread than all of them together can be told apart.

# %% tags=["remove-input"]
table(sensitivity.sensitivity_table(seed_runs))

# %% tags=["remove-input"]
Markdown(sensitivity.sensitivity_finding(seed_runs))

# %% [markdown]
# A Table 1 cell with fewer than the paper's 10 runs per family shows the runs it has; its
# sd rests on that many models.
