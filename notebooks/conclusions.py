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
# # Conclusions: what reproduces, and under which conditions
#
# This chapter gathers the verdict on every claim of {cite:t}`davidson2018hyperspherical` that the
# book tests, with the protocol and the number of trained models behind it. Nothing here is
# computed anew: each row comes from the function that makes the corresponding chapter's
# table, and a cell that has not yet been trained under the paper's protocol says which reduced
# budget produced its verdict.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from hvae_lib.experiments import conclusions
from hvae_lib.experiments import critique_low_data as low_data
from hvae_lib.experiments.critique_audit import MODEL_PROFILE
from hvae_lib.experiments.followup_compressed_vae import control_verdict
from hvae_lib.experiments.table1 import table1_store
from hvae_lib.report import provenance_note, table
from hvae_lib.results import RunStore

# %% tags=["remove-input"]
provenance_note(profile, table1_store(MODEL_PROFILE[profile]), table1_store(profile), RunStore("table3", profile), RunStore("table4", profile))

# %% [markdown]
# ## The verdicts
#
# "Confirmed" and "refuted" are used only for cells trained under the paper's protocol; a
# reduced budget's outcomes read "holds" and "reversed", and "not significant" or
# "inconclusive" means that the corrected test does not separate the two models.

# %% tags=["remove-input"]
Markdown(conclusions.summary(profile))

# %% tags=["remove-input"]
table(conclusions.conclusions(profile))

# %% [markdown]
# ## The follow-up paper

# %% tags=["remove-input"]
Markdown(control_verdict(profile))

# %% [markdown]
# ## The earlier reproduction's explanations
#
# It offered three: the low-data regime (posterior collapse of the N-VAE), too few runs, and a
# schedule calibrated on the full data set. The second is measured in the variance chapter,
# which gives the runs each comparison needs; the first and the third in the low-data chapter:

# %% tags=["remove-input"]
Markdown("\n\n".join([low_data.collapse_finding(profile), low_data.reversal_finding(profile), low_data.schedule_finding(profile)]))

# %% [markdown]
# ## Under which conditions
#
# - **Training to convergence.** Under a reduced budget comparisons can change sign: the Table 1
#   chapter's 30-epoch runs were still improving at their last epoch, and so are several M2
#   curves of the Table 3 chapter at epoch 100 (the rows marked "reduced" above). The paper's
#   ordering can only be judged from runs trained with its warm-up and early stopping.
# - **The estimator.** An LL computed with a Gaussian likelihood, a wrong prior constant or a
#   few importance samples is not the paper's quantity; the audit chapter measures each on our
#   models.
# - **The design of the test.** Table 4's runs share edge splits and need a paired test; Table
#   1's are independent models. The variance chapter gives the runs each claim needs.
# - **Still open.** The paper's Table 3 at its own scale. The M1+M2 rows above come from a
#   reduced budget and only from the cells trained so far (the Table 3 chapter lists them);
#   Kingma's anchor in that chapter shows where the same budget leaves his own model.

# %% tags=["remove-input"]
Markdown(conclusions.table3_cost(profile))
