r"""K-nearest-neighbour classification on latent codes (the paper's Table 2 protocol, M1 + K-NN).

A few labelled training points (``n_labels``, class-balanced: n/10 per class, drawn without
replacement) vote for the class of every test point among its k nearest neighbours (uniform
weights; a tie between classes goes to the class of the nearest neighbour among them).

Distances: on unit vectors (S-VAE mean directions) the arc length arccos(a.b), the cosine
distance 1 - a.b and the Euclidean distance sqrt(2 - 2 a.b) are increasing functions of each
other, so they rank neighbours identically; ``"euclidean"`` computes all three. ``"cosine"``
normalises the codes first (the N-VAE check).
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("euclidean", "cosine")


def balanced_label_draw(labels: np.ndarray, n_labels: int, draw: int, classes: int = 10, seed: int = 0) -> np.ndarray:
    """Indices of ``n_labels`` labelled points, ``n_labels / classes`` of each class, drawn without
    replacement with a generator seeded by (seed, n_labels, draw) alone: the same points for
    every model, so N-VAE and S-VAE are compared on the same labels."""
    if n_labels % classes:
        raise ValueError(f"n_labels must be a multiple of {classes} for a class-balanced draw, got {n_labels}")
    rng = np.random.default_rng([seed, n_labels, draw])
    per_class = n_labels // classes
    picks = []
    for c in range(classes):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} training points, fewer than the {per_class} to draw")
        picks.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def knn_predict(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, ks: tuple[int, ...], metric: str = "euclidean", classes: int = 10) -> dict[int, torch.Tensor]:
    """Predicted classes of ``test`` (n, dim) for every k in ``ks``, from the labelled ``train``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if max(ks) > train.shape[0]:
        raise ValueError(f"k = {max(ks)} exceeds the {train.shape[0]} labelled points")
    train, test = train.double(), test.double()
    if metric == "cosine":
        train, test = torch.nn.functional.normalize(train, dim=1), torch.nn.functional.normalize(test, dim=1)
    distance = torch.cdist(test, train)
    order = distance.topk(max(ks), dim=1, largest=False).indices
    neighbours = train_labels[order]
    predictions = {}
    for k in ks:
        votes = torch.zeros(test.shape[0], classes, dtype=torch.float64)
        votes.scatter_add_(1, neighbours[:, :k], torch.ones(test.shape[0], k, dtype=torch.float64))
        # Below one vote: (k - rank) / (k + 1) of each class's nearest member breaks ties by nearness.
        nearness = ((k - torch.arange(k, dtype=torch.float64)) / (k + 1)).expand(test.shape[0], k)
        bonus = torch.zeros_like(votes).scatter_reduce_(1, neighbours[:, :k], nearness, reduce="amax")
        predictions[k] = (votes + bonus).argmax(dim=1)
    return predictions


def knn_accuracies(
    train_codes: torch.Tensor,
    train_labels: np.ndarray,
    test_codes: torch.Tensor,
    test_labels: np.ndarray,
    n_labels: tuple[int, ...],
    draws: int,
    ks: tuple[int, ...],
    metrics: tuple[str, ...],
) -> list[dict]:
    """Test accuracy (%) for every (labels, draw, k, metric); one dict per combination."""
    train_y = torch.as_tensor(train_labels, dtype=torch.long)
    test_y = torch.as_tensor(test_labels, dtype=torch.long)
    rows = []
    for n in n_labels:
        for draw in range(draws):
            index = torch.as_tensor(balanced_label_draw(train_labels, n, draw))
            for metric in metrics:
                predicted = knn_predict(train_codes[index], train_y[index], test_codes, ks, metric)
                for k, labels in predicted.items():
                    accuracy = 100.0 * (labels == test_y).double().mean().item()
                    rows.append({"labels": n, "draw": draw, "k": k, "metric": metric, "accuracy": accuracy})
    return rows
