"""K-NN classification and the multiple-testing correction, against sklearn and by definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from hvae_lib.evaluation.knn import balanced_label_draw, knn_accuracies, knn_predict
from hvae_lib.experiments.table2 import variance_components
from hvae_lib.stats import holm


def test_balanced_draw_is_class_balanced_without_replacement_and_shared():
    labels = np.random.default_rng(0).integers(0, 10, size=5000)
    draw = balanced_label_draw(labels, 600, draw=3)
    assert len(np.unique(draw)) == 600
    assert (np.bincount(labels[draw], minlength=10) == 60).all()
    assert np.array_equal(draw, balanced_label_draw(labels, 600, draw=3))
    assert not np.array_equal(draw, balanced_label_draw(labels, 600, draw=4))
    with pytest.raises(ValueError, match="multiple of 10"):
        balanced_label_draw(labels, 105, draw=0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_one_nn_matches_sklearn(metric):
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(300, 5)), rng.normal(size=(500, 5))
    labels = rng.integers(0, 10, size=300)
    ours = knn_predict(torch.tensor(train), torch.tensor(labels), torch.tensor(test), (1,), metric)[1].numpy()
    if metric == "cosine":
        train, test = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (train, test))
    reference = KNeighborsClassifier(n_neighbors=1).fit(train, labels).predict(test)
    assert (ours == reference).all()


def test_k_nn_votes_by_majority_and_breaks_ties_by_the_nearest():
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(200, 3)), rng.normal(size=(400, 3))
    labels = rng.integers(0, 4, size=200)
    ours = knn_predict(torch.tensor(train), torch.tensor(labels), torch.tensor(test), (5,), classes=4)[5].numpy()
    distance = np.linalg.norm(test[:, None] - train[None], axis=-1)
    for i, row in enumerate(distance):
        nearest = labels[np.argsort(row)[:5]]
        counts = np.bincount(nearest, minlength=4)
        tied = np.flatnonzero(counts == counts.max())
        expected = next(c for c in nearest if c in tied)  # the first (nearest) neighbour of a tied class
        assert ours[i] == expected


def test_arc_length_ranks_unit_vectors_like_euclidean():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(100, 4))
    test = rng.normal(size=(200, 4))
    train, test = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (train, test))
    labels = rng.integers(0, 10, size=100)
    arc = KNeighborsClassifier(n_neighbors=1, metric=lambda a, b: np.arccos(np.clip(a @ b, -1, 1))).fit(train, labels).predict(test)
    ours = knn_predict(torch.tensor(train), torch.tensor(labels), torch.tensor(test), (1,))[1].numpy()
    assert (ours == arc).all()


def test_knn_accuracies_cover_every_combination():
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(10), 30)
    codes = torch.tensor(rng.normal(size=(300, 3)) + labels[:, None])
    rows = knn_accuracies(codes, labels, codes[:50], labels[:50], (10, 20), 2, (1, 3), ("euclidean",))
    assert len(rows) == 2 * 2 * 2
    assert all(0 <= r["accuracy"] <= 100 for r in rows)


def test_holm_matches_its_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted: 0.005 (x4) 0.01 (x3) 0.03 (x2) 0.04 (x1), running maxima
    expected = np.array([0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(holm(p), expected)
    np.testing.assert_allclose(holm([0.01, 0.9]), [0.02, 0.9])
    np.testing.assert_allclose(holm([0.6, 0.9]), [1.0, 1.0])
    with pytest.raises(ValueError):
        holm([1.5])


def test_variance_components_recover_known_spreads():
    """10 models x 20 draws with model sd 2 and draw sd 1 (seeded Monte Carlo): the estimates
    land within 40% of the truth, a tolerance fitting 10 models."""
    rng = np.random.default_rng(5)
    import pandas as pd

    model_effect = rng.normal(0, 2, size=(10, 1))
    accuracy = 80 + model_effect + rng.normal(0, 1, size=(10, 20))
    cell = pd.DataFrame({"run": np.repeat(np.arange(10), 20), "accuracy": accuracy.ravel()})
    spread = variance_components(cell)
    assert spread["sd_label"] == pytest.approx(1, rel=0.2)
    assert spread["sd_model"] == pytest.approx(2, rel=0.4)


def test_spread_figure_draws_one_box_per_trained_model_and_every_draw():
    """3 models per family x 2 dims x 4 draws: each panel has 6 boxes and 24 dots."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib.collections import PathCollection
    from matplotlib.patches import PathPatch

    from hvae_lib.experiments.table2 import spread_figure

    rows = [
        {"model": model, "d": d, "run": run, "labels": 100, "draw": draw, "k": 1, "metric": "euclidean",
         "accuracy": 50.0 + run + draw}
        for model in ("N-VAE", "S-VAE") for d in (2, 5) for run in range(3) for draw in range(4)
    ]
    fig = spread_figure(pd.DataFrame(rows), labels=100)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["d = 2", "d = 5"]
    for ax in panels:
        boxes = [patch for patch in ax.patches if isinstance(patch, PathPatch)]
        assert len(ax.get_xticks()) == 0 and len(boxes) == 6
        dots = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
        assert dots == 24
