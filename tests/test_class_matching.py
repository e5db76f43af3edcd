"""Hungarian matching of predicted classes against a brute force over every permutation."""

from itertools import permutations

import numpy as np
import pytest

from hvae_lib.evaluation.class_matching import argmax_accuracy, confusion_matrix, matched_accuracy


def test_confusion_matrix_counts_pairs():
    confusion = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert argmax_accuracy(confusion) == pytest.approx(4 / 6)


@pytest.mark.parametrize("seed", range(5))
def test_matched_accuracy_is_the_best_permutation(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, 300)
    # A classifier that is right 60% of the time, under a scrambled naming of its classes.
    names = rng.permutation(6)
    predictions = np.where(rng.random(300) < 0.6, names[labels], rng.integers(0, 6, 300))
    confusion = confusion_matrix(labels, predictions, 6)
    best = max(sum(confusion[i, p[i]] for i in range(6)) for p in permutations(range(6))) / 300
    assert matched_accuracy(confusion) == pytest.approx(best)
    assert matched_accuracy(confusion) >= argmax_accuracy(confusion)


def test_out_of_range_classes_raise():
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
