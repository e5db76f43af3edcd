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
# # The data
#
# Every experiment of the book reads its data through `hvae_lib.data`, from one directory:
# `$HVAE_DATA_DIR`, or `data/` in the project. Files found there are checked against their
# SHA-256 and used without any network access; missing files are downloaded (and verified)
# where a network exists; offline, the loader stops at once with a message naming the missing
# files, the directory it searched and how to supply them.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"

# %% tags=["remove-input"]
from hvae_lib.experiments import data_chapter as experiments
from hvae_lib.plotting import save_figure, use_style
from hvae_lib.report import glue, provenance_note, table

use_style()
provenance_note(profile)

# %% [markdown]
# ## MNIST
#
# The paper trains on MNIST's 60,000 training digits and scores on its 10,000 test digits. Early
# stopping needs a validation set the test set never sees, so we hold out 10,000 training
# images, chosen by a permutation with a fixed seed: the 50k / 10k split of the first author's
# own later training code (the paper does not state its split; the official TensorFlow example
# uses 55k / 5k). The test set keeps its official order.

# %% tags=["remove-input"]
table(experiments.image_statistics(profile))

# %% [markdown]
# ### Dynamic binarisation
#
# The likelihood is Bernoulli, so the images must be binary. Most MNIST pixels are 0 or 1 already,
# but the pen strokes' edges are grey (the last column above). Following the paper, we treat each
# grey level as a probability and draw a fresh binary image $x \sim \mathrm{Bernoulli}(p)$ every
# time a batch is served: during training, each epoch sees new draws, which acts as a mild data
# augmentation and removes the overfitting that one fixed binarisation invites. For evaluation,
# the draws come from a seeded generator that restarts at every pass, so that every model is
# scored on the very same binary test set.

# %% tags=["remove-cell"]
fig = experiments.binarization_figure(profile)
save_figure(fig, "data_binarization")
glue("data_binarization", fig)

# %% [markdown]
# ```{glue:figure} data_binarization
# :name: fig-data-binarization
#
# Dynamic binarisation. Top row: MNIST test digits as grey levels (pixel intensity in [0, 1]);
# the three rows below: three independent draws $x \sim \mathrm{Bernoulli}(p)$ of the same digits.
# ```
#
# The strokes' cores never change, their fringes flicker from draw to draw.
#
# ## The citation graphs
#
# The link-prediction experiment (Table 4 of the paper) uses the Planetoid versions of three
# citation graphs: documents are nodes with bag-of-words features, citations are undirected
# edges. The numbers below are computed from the loaded graphs, not copied from a paper.

# %% tags=["remove-input"]
table(experiments.graph_statistics(profile), digits=4)

# %% [markdown]
# The graphs are very sparse (about one pair of nodes in a thousand is linked), which is why the
# link-prediction protocol samples as many non-edges as it holds out edges. Their edge
# homophily, the share of edges joining two documents of the same class, is high: a latent space
# learnt from the links alone should therefore group documents by class, which is what the
# paper's Figure 3 shows. PubMed's feature matrix for its unlabelled nodes (`ind.pubmed.allx`)
# is missing from the offline data set this book was built with; where it is missing, the table
# says so and the PubMed columns of Table 4 are not run.
