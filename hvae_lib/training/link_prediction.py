r"""Link prediction with a VGAE: Kipf & Welling's protocol, one seeded run at a time.

Protocol: the undirected edges are split 85/5/10 into train/validation/test (``RandomLinkSplit``),
validation and test get as many non-edges of the full graph as negatives; the encoder sees the
training graph only. Training: Adam (lr 0.01), full batch, a fixed number of epochs, no early
stopping, minimising

    loss = R + w * mean_i KL(q(z_i) || p(z_i)),   w = 1/N (Kipf's reference code) or 1.

R is Kipf's re-weighted cross-entropy over the whole adjacency matrix Y = A_train + I of the
training graph (E = number of ones of A_train, logits l_ij = s z_i . z_j):

    R_dense = norm / N^2 * sum_ij [pos_weight Y_ij (-log sigmoid l_ij) + (1 - Y_ij)(-log(1 - sigmoid l_ij))],
    pos_weight = (N^2 - E) / E,   norm = N^2 / (2 (N^2 - E)),

which is, up to the N diagonal entries, (mean over edges + mean over non-edges) / 2 (``recon =
"dense"``, the default). ``recon = "sampled"`` estimates the mean over non-edges from as many
non-edges, drawn afresh every epoch, as there are edges: R_sampled = PyG's ``recon_loss`` / 2, an
unbiased estimate of the same quantity that never forms the N x N matrix (about 2.5 times
cheaper per epoch on Cora on a CPU, the only option for PubMed's 19,717^2 pairs), but a noisier
one.

Evaluation scores each pair with the mean embedding (mu, the mean direction for the S-VGAE) and
reports AUC and average precision in percent (scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Data
from torch_geometric.nn import VGAE
from torch_geometric.transforms import RandomLinkSplit

from hvae_lib.models import n_vgae, s_vgae

MODELS = ("N-VGAE", "S-VGAE")


@dataclass(frozen=True)
class LinkSettings:
    """One run's settings; the defaults are Kipf & Welling's (N-VGAE)."""

    model: str = "N-VGAE"
    latent: int = 16  # ambient dimension of z: R^16, or S^15 in R^16 for the S-VGAE
    hidden: int = 32
    epochs: int = 200
    lr: float = 0.01
    kl_weight: str = "1/N"  # "1/N" (reference code) or "1"
    learn_scale: bool = False  # learned decoder scale s (S-VGAE only)
    recon: str = "dense"  # "dense" (Kipf's full adjacency matrix) or "sampled" non-edges


def split_edges(data: Data, seed: int, val: float = 0.05, test: float = 0.10) -> tuple[Data, Data, Data]:
    """(train, val, test) graphs of a seeded random edge split; each has ``edge_index`` = the
    training edges (both directions) and, under ``pos_/neg_edge_label_index``, its own positives
    (one direction) and, for val and test, as many sampled non-edges. PyG draws the non-edges
    with Python's ``random``, so ``seed_everything`` seeds it as well as torch and numpy."""
    seed_everything(seed)
    split = RandomLinkSplit(
        num_val=val, num_test=test, is_undirected=True, split_labels=True, add_negative_train_samples=False
    )
    return split(Data(x=data.x, edge_index=data.edge_index, num_nodes=data.num_nodes))


def link_metrics(pos_scores: Tensor, neg_scores: Tensor) -> tuple[float, float]:
    """(AUC, AP) in percent of scores for positive and negative pairs (higher = more likely an edge)."""
    y = np.r_[np.ones(len(pos_scores)), np.zeros(len(neg_scores))]
    scores = torch.cat([pos_scores, neg_scores]).detach().cpu().numpy()
    return 100 * float(roc_auc_score(y, scores)), 100 * float(average_precision_score(y, scores))


def build_model(settings: LinkSettings, in_channels: int) -> VGAE:
    """A fresh N-VGAE or S-VGAE (``settings.model``) for node features of ``in_channels``."""
    if settings.model == "N-VGAE":
        return n_vgae(in_channels, settings.latent, settings.hidden)
    if settings.model == "S-VGAE":
        return s_vgae(in_channels, settings.latent, settings.hidden, settings.learn_scale)
    raise ValueError(f"model must be one of {MODELS}, got {settings.model!r}")


def _dense_loss(train: Data):
    """R_dense as a function of z (see the module docstring), without forming Y: with
    -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l),

        R_dense = norm / N^2 * [sum_ij softplus(l_ij) + sum_(Y_ij = 1) (pos_weight softplus(-l_ij) - softplus(l_ij))],

    one pass over the N x N logits (twice as fast as ``binary_cross_entropy_with_logits`` on Y)."""
    n, e = train.num_nodes, train.edge_index.size(1)
    ones = torch.cat([train.edge_index, torch.arange(n).repeat(2, 1)], dim=1)  # Y = A_train + I
    pos_weight = (n * n - e) / e
    norm = n * n / (2 * (n * n - e))

    def loss(model: VGAE, z: Tensor) -> Tensor:
        logits, positive = model.decoder.forward_all(z, sigmoid=False), model.decoder(z, ones, sigmoid=False)
        correction = pos_weight * F.softplus(-positive) - F.softplus(positive)
        return norm / (n * n) * (F.softplus(logits).sum() + correction.sum())

    return loss


def _sampled_loss(train: Data):
    """R_sampled: half of PyG's loss on the training edges and as many sampled non-edges."""
    return lambda model, z: model.recon_loss(z, train.edge_index) / 2


def fit(model: VGAE, train: Data, settings: LinkSettings) -> list[float]:
    """Train ``model`` on the training graph for ``settings.epochs`` epochs; return the losses."""
    recon = {"dense": _dense_loss, "sampled": _sampled_loss}[settings.recon](train)
    kl_weight = {"1/N": 1 / train.num_nodes, "1": 1.0}[settings.kl_weight]
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    losses = []
    model.train()
    for _ in range(settings.epochs):
        optimizer.zero_grad()
        z = model.encode(train.x, train.edge_index)
        loss = recon(model, z) + kl_weight * model.kl_loss()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def evaluate(model: VGAE, train: Data, split: Data) -> tuple[float, float]:
    """(AUC, AP) in percent on ``split``'s positive and negative pairs, with the mean embedding."""
    model.eval()
    z = model.encode(train.x, train.edge_index)
    pos, neg = (model.decoder(z, pairs, sigmoid=False) for pairs in (split.pos_edge_label_index, split.neg_edge_label_index))
    return link_metrics(pos, neg)


def run_link_prediction(
    data: Data, settings: LinkSettings, seed: int, split_seed: int | None = None, init_seed: int | None = None
) -> dict[str, float]:
    """One run: split the edges with ``seed``, train, evaluate on validation and test.

    ``split_seed`` fixes the edge split and ``init_seed`` the initial parameters apart from
    ``seed`` (which then seeds the training noise alone): runs that share them differ only in the
    sources of randomness left. By default all three come from ``seed``.

    Returns AUC and AP on test, val_AUC and val_AP (percent), the epochs and the decoder scale s
    at the end.
    """
    train, val, test = split_edges(data, seed if split_seed is None else split_seed)  # fractions: table4.SPLIT
    torch.manual_seed(seed if init_seed is None else init_seed)
    model = build_model(settings, data.num_features)
    if init_seed is not None:
        torch.manual_seed(seed)
    fit(model, train, settings)
    val_auc, val_ap = evaluate(model, train, val)
    auc, ap = evaluate(model, train, test)
    return {
        "AUC": auc,
        "AP": ap,
        "val_AUC": val_auc,
        "val_AP": val_ap,
        "epochs": settings.epochs,
        "decoder_scale": model.decoder.scale,
    }
