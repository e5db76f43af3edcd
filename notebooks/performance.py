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
# # Appendix: performance
#
# Two pieces of the library carry the book's compute: the training engine and the vMF sampler
# with its KL. Table 1's protocol at the paper's scale is $10 \times 10$ models trained for up
# to 500 epochs on 50,000 images, about $2.5 \times 10^9$ image-steps. This appendix measures
# both pieces against what a user would otherwise run and against the least any correct method
# must compute.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from hvae_lib.experiments import performance
from hvae_lib.report import provenance_note, table
from IPython.display import Markdown, display

frame, meta = performance.ensemble_benchmark("cpu")

# %% tags=["remove-input"]
provenance_note(profile)

# %% [markdown]
# ## The training engine

# %% tags=["remove-input"]
Markdown(
    f"Measured by `benchmarks/ensemble.py` on {meta['device']} ({meta['threads']} threads), torch "
    f"{meta['torch']}, commit `{meta['commit']}`, {meta['date']}, in one process, {meta['runs']} runs per step: "
    f"the median of {meta['steps']} steps after 5 warm-up steps, taken {meta.get('rounds', 1)} times with the "
    f"methods of a cell in turns, and the median of those."
)

# %% [markdown]
# ### What is timed
#
# One step trains every one of the $R$ runs on its own batch: the batch is gathered and
# binarised, the posterior is sampled, and the gradient of the loss goes into an Adam update.
#
# - **engine (bfloat16)**: how Table 1 trains. All runs' parameters sit in one float32 buffer; the
#   wide layers' matrix products run in bfloat16 on a bfloat16 copy of it; the backward pass of
#   the MLPs is written out (three matrix products per layer), the small latent block goes through
#   autograd (the N-VAE's is written out too); one compiled Adam pass reads the wide layers'
#   gradients in bfloat16, updates the buffer and writes the next step's bfloat16 copy.
# - **engine (float32)**: the same in float32.
# - **autograd ensemble**: the engine it replaced, stacked parameters with autograd and
#   `torch.optim.Adam`.
# - **reference loop**: what the official example does, one `nn.Module` and one Adam per run,
#   stepped one after the other.
# - **floors**: the forward and backward matrix products of one step of the $R$ runs alone,
#   batched and preallocated, in float32 and in bfloat16.
#
# ### Throughput

# %% tags=["remove-input"]
table(performance.throughput_table(frame), "thousands of (runs x images) per second")

# %% [markdown]
# ### Ratios

# %% tags=["remove-input"]
table(performance.ratio_table(frame), "engine (bfloat16) against each row")
# %% tags=["remove-input"]
Markdown(performance.engine_goal(frame))

# %% [markdown]
# Where the rest of the step goes. Adam reads and writes every parameter and both of its moments
# once per step whatever the batch, about 30 bytes per parameter for 4.7 million parameters at
# $R = 10$ (about 140 MB of memory traffic), so at batch 64 it is a large share of the step; at
# batch 100 the same pass is spread over more images, which is why every cell is faster there. The S-VAE's step
# costs more than the N-VAE's by its latent block: the rejection sampler draws each run's
# proposals from that run's own generator, round after round until all are accepted, and the KL
# evaluates Bessel-function ratios in float64, under autograd, where the N-VAE's block is a few
# fused products written out by hand.

# %% [markdown]
# ## M2, the semi-supervised model of Table 3
#
# M2's unlabelled bound is summed over the ten classes, so each unlabelled image costs its
# encoder and decoder ten times: a step of 3 runs carries two hidden layers of
# $3 \times 5{,}000 \times 500$ units. `benchmarks/m2.py` times full training steps (z1 drawn
# from the M1 posterior, 1 labelled and 499 unlabelled images, backward, Adam) of
#
# - **engine (bfloat16)**, as the `cpu` profile of Table 3 trains, and **engine (float32)**: the
#   first layers split into a part per image and a part per class (so the ten pairs of an
#   image share one matrix product), the wide layers' backward written out, fused Adam;
# - **concatenated autograd**: the same model applied to $[z_1, \mathrm{onehot}(y)]$ for every
#   pair, as it is written and as Kingma's code computes it, with autograd and
#   `torch.optim.Adam`;
# - **floors**: the matrix products of one step of the split formulation alone. They leave out
#   the softplus of the two wide hidden layers, which alone takes about a fifth of the engine's
#   step, so even the bfloat16 floor is out of reach.

# %% tags=["remove-input"]
m2_frame, m2_meta = performance.m2_benchmark("cpu")
Markdown(
    f"Measured on {m2_meta['device']} ({m2_meta['threads']} threads), torch {m2_meta['torch']}, "
    f"commit `{m2_meta['commit']}`, {m2_meta['date']}: median of {m2_meta['steps']} steps, "
    f"{m2_meta['runs']} runs per step; an epoch is 100 steps."
)

# %% tags=["remove-input"]
table(performance.m2_table(m2_frame), "seconds per M2 epoch of 3 runs; the engine (bfloat16) against the concatenated formulation and the share of each floor's speed it reaches")

# %% [markdown]
# ### On a CPU without native bfloat16
#
# bfloat16 pays only where the CPU multiplies it in hardware (AVX-512 BF16 or AMX). The same
# benchmark on a second 2-core machine whose CPU has AVX2 only, where torch emulates bfloat16:

# %% tags=["remove-input"]
avx2_frame, avx2_meta = performance.m2_benchmark("cpu-avx2")
display(Markdown(performance.m2_precision_reading(m2_frame, m2_meta) + "\n\n" + performance.m2_precision_reading(avx2_frame, avx2_meta)))
table(performance.m2_table(avx2_frame), "seconds per M2 epoch of 3 runs on a CPU with AVX2 only; columns as in the table above")

# %% [markdown]
# The library therefore trains in float32 wherever the CPU lacks native bfloat16
# (`hvae_lib.results.training_precision`), and every run records the CPU model and its vector
# instructions with its wall time.

# %% [markdown]
# ## The vMF sampler and KL
#
# `benchmarks/vmf.py` times, in one run and for a batch of $10^5$ draws, the book's `rsample`
# against the official algorithm as packaged on PyPI (`pythae`'s S-VAE sampler),
# `scipy.stats.vonmises_fisher`, the Power Spherical distribution (`power-spherical`, a
# different distribution with the same role) and a floor: the random numbers any correct
# sampler has to draw. It checks every sampler's output (no NaN, unit norm, $\|\bar z\|$ within
# 5 standard deviations of its expectation) and times the KL with its gradient against the
# official scipy-`ive` route. The samplers of a cell are timed in turn within each repeat, so a
# change of load hits them alike; read the ratios, and the floor: where the official algorithm
# costs less than ten times the floor's random draws, no sampler that makes those draws could be
# ten times faster than it.

# %% tags=["remove-input"]
found = {device: performance.vmf_benchmark(device) for device in ("cpu", "cuda")}
found = {device: value for device, value in found.items() if value is not None}
if not found:
    display(Markdown("No vMF benchmark results are stored: run `python benchmarks/vmf.py`."))
for device, (results, meta) in found.items():
    display(Markdown(f"### {device.upper()}\n\n" + performance.benchmark_provenance(meta)))
    display(table(performance.benchmark_targets(results, device), "the speed goals against the measured ratios"))
    display(table(performance.benchmark_sampling_table(results), "sampling: our time, and how many times faster ours is than each peer"))
    display(table(performance.benchmark_correctness_table(results), "sampling: were the samples correct?"))
    display(table(performance.benchmark_kl_table(results), "KL + gradient over 1e5 concentrations, log-uniform in [1, 1e4]", digits=3))

# %% [markdown]
# The cells where a sampler failed the correctness check, and by how much (bad share: the share
# of NaN or off-sphere samples; mean resultant against its expectation):

# %% tags=["remove-input"]
for device, (results, _) in found.items():
    display(table(performance.benchmark_failures(results), f"{device.upper()}: failed cells"))

# %% [markdown]
# Two mechanisms explain them. `pythae` and `power-spherical` add a small epsilon to the norm in
# their Householder reflection, which is then no longer orthogonal: the samples miss the unit
# sphere by a little, invisible in float32 but far above float64 rounding. And `pythae` computes
# $b = (-2\kappa + \sqrt{4\kappa^2 + (m-1)^2})/(m-1)$, which cancels in float32 at large
# $\kappa$: for small $m$, $b$ rounds to 0, no proposal is ever accepted, and after its 100
# rounds the sampler returns $w = 0$, points on the equator instead of near $\mu$; for larger
# $m$, $b$ is merely inaccurate and the samples come out less concentrated than the vMF (compare
# the mean resultant with its expectation). The book's sampler forms the same $b$ as
# $(m-1)/(2\kappa + \sqrt{4\kappa^2 + (m-1)^2})$, without cancellation, and its Householder
# reflection needs no epsilon (`hvae_lib.distributions.householder_rotation`).
