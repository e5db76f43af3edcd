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
# # Appendix: the training engine's speed
#
# Table 1's protocol at the paper's scale is $10 \times 10$ models trained for up to 500 epochs
# on 50,000 images: about $2.5 \times 10^9$ image-steps. This appendix measures how fast the
# book's engine takes those steps, against what a user would otherwise run and against the
# least any correct method must compute.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from hvae_lib.experiments import performance
from hvae_lib.report import provenance_note, table
from IPython.display import Markdown

frame, meta = performance.ensemble_benchmark("cpu")

# %% tags=["remove-input"]
provenance_note(profile)

# %% tags=["remove-input"]
Markdown(
    f"Measured by `benchmarks/ensemble.py` on {meta['device']} ({meta['threads']} threads), torch "
    f"{meta['torch']}, commit `{meta['commit']}`, {meta['date']}: median of {meta['steps']} steps "
    f"after 5 warm-up steps, {meta['runs']} runs per step, in one process."
)

# %% [markdown]
# ## What is timed
#
# One step trains every one of the $R$ runs on its own batch: the batch is gathered and
# binarised, the posterior is sampled, and the gradient of the loss goes into an Adam update.
#
# - **engine (bfloat16)**: how Table 1 trains. All runs' parameters sit in one float32 buffer; the
#   wide layers' matrix products run in bfloat16 on a copy cast once per step; the backward pass
#   of the MLPs is written out (three matrix products per layer), the small latent block goes
#   through autograd (the N-VAE's is written out too); one fused Adam step updates the buffer.
# - **engine (float32)**: the same in float32.
# - **autograd ensemble**: the engine it replaced, stacked parameters with autograd and
#   `torch.optim.Adam`.
# - **reference loop**: what the official example does, one `nn.Module` and one Adam per run,
#   stepped one after the other.
# - **floors**: the forward and backward matrix products of one step of the $R$ runs alone,
#   batched and preallocated, in float32 and in bfloat16.
#
# ## Throughput

# %% tags=["remove-input"]
table(performance.throughput_table(frame), "thousands of (runs x images) per second")

# %% [markdown]
# ## Ratios

# %% tags=["remove-input"]
table(performance.ratio_table(frame), "engine (bfloat16) against each row")
