"""Scoring a classifier's predictions with and without matching its classes to the labels.

The earlier reproduction scored its M1+M2 with Hungarian matching: the predicted classes are
relabelled by the permutation pi that maximises the agreement, sum_k C[pi(k), k] over the
confusion matrix C (rows true class, columns predicted), before the accuracy is read. A
semi-supervised classifier names its classes itself, so matching can only raise its accuracy;
the gain measures how much of the score the matching, not the labels, provided.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """C[i, j] = the number of examples of true class i predicted as j."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    if labels.size and (min(labels.min(), predictions.min()) < 0 or max(labels.max(), predictions.max()) >= classes):
        raise ValueError(f"classes must lie in 0..{classes - 1}")
    return np.bincount(classes * labels + predictions, minlength=classes * classes).reshape(classes, classes)


def argmax_accuracy(confusion: np.ndarray) -> float:
    """The share of examples whose predicted class is their label: trace(C) / sum(C)."""
    return float(np.trace(confusion) / confusion.sum())


def matched_accuracy(confusion: np.ndarray) -> float:
    """The accuracy after relabelling the predicted classes by the best one-to-one matching
    (Hungarian algorithm on -C): max over permutations pi of sum_i C[i, pi(i)] / sum(C)."""
    rows, columns = linear_sum_assignment(-confusion)
    return float(confusion[rows, columns].sum() / confusion.sum())
