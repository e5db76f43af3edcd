"""Link prediction: the S-VGAE learns a planted partition, the edge split does not leak, the
metrics match scikit-learn, and the Hammer projection puts the poles and the equator in place."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch_geometric.data import Data
from torch_geometric.utils import to_dense_adj, to_undirected

from hvae_lib.plotting import hammer_projection
from hvae_lib.training import LinkSettings, build_model, fit, link_metrics, split_edges
from hvae_lib.training.link_prediction import _dense_loss, evaluate

AUC_THRESHOLD = 65.0  # chance is 50 (sd about 6 on these 47 + 47 test pairs); seed 0 gives about 74


@pytest.fixture
def one_thread():
    """Tiny graphs train faster on one thread than on several competing for a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def planted_partition(blocks: int = 2, size: int = 40, p_in: float = 0.3, p_out: float = 0.01, seed: int = 0) -> Data:
    """A stochastic block model with one-hot node identities as features."""
    generator = torch.Generator().manual_seed(seed)
    n = blocks * size
    block = torch.arange(n) // size
    p = torch.where(block[:, None] == block[None, :], p_in, p_out)
    upper = torch.triu(torch.rand(n, n, generator=generator) < p, diagonal=1)
    return Data(x=torch.eye(n), edge_index=to_undirected(upper.nonzero().t()), num_nodes=n)


def test_s_vgae_learns_a_planted_partition(one_thread):
    graph = planted_partition()
    train, _, test = split_edges(graph, seed=0)
    torch.manual_seed(0)
    settings = LinkSettings(model="S-VGAE", latent=4, epochs=60, learn_scale=True)
    model = build_model(settings, graph.num_features)
    losses = fit(model, train, settings)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    auc, ap = evaluate(model, train, test)
    assert auc > AUC_THRESHOLD


def test_dense_loss_is_kipfs_weighted_cross_entropy():
    graph = planted_partition(seed=2)
    train, _, _ = split_edges(graph, seed=0)
    model = build_model(LinkSettings(model="N-VGAE", latent=3), graph.num_features)
    z = torch.randn(graph.num_nodes, 3)
    n, e = train.num_nodes, train.edge_index.size(1)
    target = to_dense_adj(train.edge_index, max_num_nodes=n)[0] + torch.eye(n)
    kipf = n * n / (2 * (n * n - e)) * torch.nn.functional.binary_cross_entropy_with_logits(
        z @ z.t(), target, pos_weight=torch.tensor((n * n - e) / e)
    )
    assert _dense_loss(train)(model, z).item() == pytest.approx(kipf.item(), rel=1e-5)


def test_edge_split_has_no_leakage():
    graph = planted_partition(seed=1)
    train, val, test = split_edges(graph, seed=3)
    train_pairs = set(map(tuple, train.edge_index.t().tolist()))
    for split in (val, test):
        held_out = split.pos_edge_label_index.t().tolist()
        assert held_out
        assert not {(i, j) for i, j in held_out} & train_pairs
        assert not {(j, i) for i, j in held_out} & train_pairs
        negatives = set(map(tuple, split.neg_edge_label_index.t().tolist()))
        assert not negatives & set(map(tuple, graph.edge_index.t().tolist()))
    again = split_edges(graph, seed=3)[2]
    assert torch.equal(again.neg_edge_label_index, test.neg_edge_label_index)
    total = graph.edge_index.size(1) // 2
    assert train.edge_index.size(1) // 2 + val.pos_edge_label_index.size(1) + test.pos_edge_label_index.size(1) == total


def test_metrics_on_known_inputs():
    assert link_metrics(torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0.1, 0.2])) == (100.0, 100.0)
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.5, 1, 50), rng.normal(0, 1, 70)
    y, scores = np.r_[np.ones(50), np.zeros(70)], np.r_[pos, neg]
    auc, ap = link_metrics(torch.tensor(pos), torch.tensor(neg))
    assert auc == pytest.approx(100 * roc_auc_score(y, scores))
    assert ap == pytest.approx(100 * average_precision_score(y, scores))


def test_hammer_projection_of_poles_and_equator():
    points = np.array([[1, 0, 0], [0, 0, 1], [0, 0, -1], [0, 1, 0], [-1, 1e-12, 0]])
    x, y = hammer_projection(points)
    s2 = math.sqrt(2)
    expected_x = [0, 0, 0, 2 * s2 * math.sin(math.pi / 4) / math.sqrt(1 + math.cos(math.pi / 4)), 2 * s2]
    np.testing.assert_allclose(x, expected_x, atol=1e-9)
    np.testing.assert_allclose(y, [0, s2, -s2, 0, 0], atol=1e-9)


def test_s_vgae_gives_a_direction_to_a_node_with_neither_features_nor_edges():
    graph = planted_partition(seed=4)
    x = graph.x.clone()
    x[0] = 0
    edge_index = graph.edge_index[:, (graph.edge_index != 0).all(0)]
    model = build_model(LinkSettings(model="S-VGAE", latent=3), graph.num_features)
    loc, kappa = model.encoder(x, edge_index)
    torch.testing.assert_close(torch.linalg.vector_norm(loc, dim=-1), torch.ones(graph.num_nodes))
    assert model.encode(x, edge_index).isfinite().all()
