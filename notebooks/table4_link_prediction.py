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
# # Link prediction: Table 4 and Figure 3
#
# The paper's last experiment swaps the Gaussian posterior of Kipf & Welling's variational graph
# auto-encoder (VGAE) {cite:p}`kipf2016variational` for a von Mises-Fisher one and predicts held-out citations in Cora,
# CiteSeer and PubMed. Its claim: the S-VGAE is better than the N-VGAE on Cora and CiteSeer,
# worse on PubMed. This chapter reruns both models under one protocol, with seeded runs that each
# draw their own edge split, and tests the claim dataset by dataset.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-cell"]
from hvae_lib.experiments import table4 as experiments
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table
from hvae_lib.results import RunStore

use_style()
experiments.table4_runs(profile)
ablation_table = experiments.ablation(profile)

# %% tags=["remove-input"]
provenance_note(profile, RunStore("table4", profile), RunStore("table4_ablation", profile))

# %% [markdown]
# ## The models
#
# Both models encode the graph with a two-layer graph convolutional network (GCN) on the
# training graph's normalised adjacency $\hat A = D^{-1/2}(A + I)D^{-1/2}$: a shared hidden layer
# $H = \mathrm{ReLU}(\hat A X W_0)$ with 32 units, then one GCN head per posterior parameter.
#
# - **N-VGAE** (Kipf & Welling): $q(z_i) = \mathcal N(\mu_i, \operatorname{diag}\sigma_i^2)$ with
#   $\mu = \hat A H W_\mu$, $\log\sigma = \hat A H W_\sigma$, $z_i \in \mathbb R^{16}$, prior
#   $\mathcal N(0, I)$.
# - **S-VGAE**: $q(z_i) = \mathrm{vMF}(\mu_i, \kappa_i)$ on the unit sphere, with
#   $\mu = \hat A H W_\mu / \lVert \hat A H W_\mu \rVert$ and
#   $\kappa = \mathrm{softplus}(\hat A H w_\kappa) + 1$, prior uniform on the sphere; samples and
#   KL come from `hvae_lib.distributions`.
#
# Both decode with an inner product, $p(A_{ij} = 1 \mid z) = \sigma(s\, z_i^\top z_j)$, and are
# trained on the ELBO: a re-weighted cross-entropy over node pairs plus the KL divided by the
# number of nodes, as in Kipf's reference code; Adam with learning rate 0.01, 200 full-batch
# epochs, no early stopping. The edges are split 85/5/10 into training, validation and test
# sets, the two held-out sets get as many sampled non-edges, and every run draws its own split
# from its seed. Pairs are scored with the mean embedding ($\mu$, the mean direction for the
# S-VGAE). The models are PyTorch Geometric's `VGAE`; the S-VGAE overrides only its encoding
# step and KL term (`hvae_lib/models/vgae.py`).
#
# ### Choices the paper leaves open
#
# - **Reconstruction loss.** Kipf's code weights the positive entries of the whole
#   $N \times N$ adjacency matrix by $(N^2 - E)/E$; up to the diagonal, that loss is half the sum
#   of the mean loss over edges and the mean loss over non-edges. PyTorch Geometric's
#   `recon_loss` instead estimates the second mean from as many sampled non-edges as there are
#   edges: halved, it has the same expectation, is cheaper per epoch, and is the only option at
#   PubMed's size, but it is noisier. We use Kipf's dense loss for both models on Cora and
#   CiteSeer, where the matrix fits in memory, and the sampled one on PubMed. The ablation below
#   shows that the choice matters, and for which model.
# - **Latent dimension.** The S-VGAE's $z$ lives on $S^{15} \subset \mathbb R^{16}$: as many
#   coordinates as the N-VGAE's. The ablation tries $S^{16} \subset \mathbb R^{17}$.
# - **Decoder scale.** Unit vectors give logits $z_i^\top z_j \in [-1, 1]$, so the predicted
#   edge probability never exceeds $\sigma(1) \approx 0.73$. We learn a scalar scale $s$
#   (initialised at 1); the ablation tries the fixed $s = 1$. Scaling does not change how pairs
#   are ranked at evaluation, only what the training loss rewards.
# - **KL weight.** Kipf's code divides the KL by the number of nodes; the ablation tries the
#   undivided mean KL per node.
# - **Empty nodes.** CiteSeer has nodes with neither features nor edges (the graph's missing test
#   documents, padded with zeros); a bias-free GCN maps them to exactly zero, which has no
#   direction. We set their mean direction to the first basis vector.
#
# The S-VGAE settings of Table 4 (on Cora and CiteSeer) under this profile:

# %% tags=["remove-input"]
table(experiments.settings_table("S-VGAE", profile))

# %% [markdown]
# ## Table 4
#
# Ours are means ± standard deviations over runs (the `runs` column: the `cpu` and `full` profiles
# both run the paper's ten per cell, each with its own seeded edge split); the paper's
# standard deviations (and its whole N-VGAE row) could not be checked against the paper's PDF.
# Kipf & Welling's original VGAE numbers are given for comparison.

# %% tags=["remove-input"]
table(experiments.table4(profile), "AUC and AP on the test edges (%)")

# %% [markdown]
# Which datasets this build ran:

# %% tags=["remove-input"]
table(experiments.run_status(profile))

# %% [markdown]
# Where the table above says *not run*, that part of the claim is untested here. This is the case
# of PubMed in this book's offline build: its data set lacks `ind.pubmed.allx` (see the data
# chapter), and the `cpu` profile leaves PubMed out in any case. The `full` profile runs it
# wherever its files are present, and skips it, saying so above, where they are missing.
#
# ## Is the S-VGAE better?
#
# Run $i$ of both models trains on the same edge split (seed $i$), so the comparison is paired:
# per dataset and metric, the mean of the per-run differences (S-VGAE minus N-VGAE, in points of
# percent), how many of the runs the S-VGAE wins, and the paired t-test, with Holm's correction
# over the table's tests. The claim counts as confirmed when the difference has the claimed sign
# with a corrected $p < 0.05$, refuted when it has the opposite sign, inconclusive otherwise.
# Welch's test, which treats the two models' runs as unrelated, is shown for contrast.

# %% tags=["remove-input"]
table(experiments.paired_tests(profile))

# %% [markdown]
# ## Ablation on Cora
#
# The unknowns, settled on Cora with fewer runs per variant than Table 4. The latent dimension,
# decoder scale and KL weight were varied with the cheaper sampled loss, each against the row
# "sampled loss", from which it differs in one setting (Δ val AUC is the change of mean
# validation AUC from that row, in points); choices should be read from the validation columns
# (the test AUC is shown, not used).

# %% tags=["remove-input"]
table(ablation_table)

# %% [markdown]
# The loss is the choice that could bias the comparison: it changes both models, and not
# necessarily by the same amount. Mean test AUC on Cora under each loss (the ablation's runs):

# %% tags=["remove-input"]
table(experiments.loss_check(profile))

# %% [markdown]
# A positive difference means that the model does better with Kipf's dense loss than with the
# sampled one. Where the two models' differences disagree, a table built with the sampled loss
# would credit one model with a margin that belongs to the loss; this is why Table 4 uses the
# dense loss wherever it fits. The other three settings were fixed before the ablation was run.
# With three runs per variant, the latent dimension and the learned scale move the validation AUC
# by about the spread between runs of one variant, too little to settle them, so we kept our
# choices; the undivided KL clearly over-regularises (and drives the learned scale down), so the
# KL stays divided by the number of nodes, as in Kipf's code.
#
# ## Figure 3: Cora without labels
#
# An N-VGAE with a two-dimensional latent space and an S-VGAE on the sphere $S^2$ (three
# coordinates, shown in the equal-area Hammer projection), each trained on one training split
# with the settings above; each dot is a document at its mean embedding, coloured by its class,
# which the models never see.

# %% tags=["remove-cell"]
fig = experiments.figure3(profile)
save_figure(fig, "figure3_cora_latents")
glue("figure3_cora", fig)

# %% [markdown]
# ```{glue:figure} figure3_cora
# :name: fig-figure3
#
# Cora's documents at their mean embeddings, coloured by class (never seen in training). Left:
# N-VGAE in $\mathbb{R}^2$ (latent coordinates, no units). Right: S-VGAE on $S^2$ in the Hammer
# equal-area projection (the ellipse is the whole sphere). Panel titles: test AUC of each model.
# ```

# %% [markdown]
# Both latent spaces group documents by class without seeing a label, as the graphs' high edge
# homophily (data chapter) leads one to expect. The plane and the sphere use them differently:
# in this build the N-VGAE's embeddings lie on a ring around the origin, along which the classes
# overlap, while on the sphere, whose uniform prior favours no point, the classes occupy regions
# of their own, some of them tight clusters. The test AUCs in the panel titles say how much of the
# link structure two or three coordinates keep.
