"""The Frechet distance against scipy's matrix square root and torchmetrics' FID with the same
feature network, and the FID feature classifier's sanity on MNIST."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from hvae_lib.data import load_images
from hvae_lib.evaluation.fid import features, fid, frechet_distance
from hvae_lib.models.feature_classifier import FeatureClassifier
from hvae_lib.training.classifier_training import accuracy, train_classifier


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_frechet_distance_matches_scipy_sqrtm():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3000, 6, dtype=torch.float64, generator=generator) @ torch.randn(6, 6, dtype=torch.float64, generator=generator)
    b = torch.randn(2000, 6, dtype=torch.float64, generator=generator) * 2 + 0.5
    assert frechet_distance(a, b) == pytest.approx(scipy_frechet(a.numpy(), b.numpy()), rel=1e-9)
    assert abs(frechet_distance(a, a)) < 1e-9


def test_frechet_distance_of_gaussians_converges_to_the_closed_form():
    """N(0, I) vs N(1, 4 I) in 3-d: d^2 = 3 * 1 + 3 * (2 - 1)^2 = 6; 200k rows each (seeded),
    within 2%."""
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(200_000, 3, dtype=torch.float64, generator=generator)
    b = 1 + 2 * torch.randn(200_000, 3, dtype=torch.float64, generator=generator)
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.02)


class PenultimateLayer(torch.nn.Module):
    """The classifier's features as a module's output, as torchmetrics expects."""

    num_features = FeatureClassifier.num_features

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        return self.network.features(x)


def test_fid_agrees_with_torchmetrics_on_the_same_feature_network():
    torch.manual_seed(0)
    network = FeatureClassifier().eval()
    generator = torch.Generator().manual_seed(2)
    real = torch.rand(300, 784, generator=generator)
    fake = torch.rand(300, 784, generator=generator).square()
    metric = FrechetInceptionDistance(feature=PenultimateLayer(network), normalize=True)
    metric.update(real.reshape(-1, 1, 28, 28), real=True)
    metric.update(fake.reshape(-1, 1, 28, 28), real=False)
    assert fid(network, real, fake) == pytest.approx(float(metric.compute()), rel=1e-4)


def test_bad_features_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(torch.full((5, 2), float("nan")), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(torch.zeros(1, 2), torch.zeros(5, 2))


@pytest.fixture(scope="module")
def mnist_classifier():
    data = load_images("mnist")
    train = data.train.images[:6000].reshape(6000, -1)
    model = train_classifier(train, data.train.labels[:6000], epochs=3, seed=0)
    return model, data


def test_the_feature_classifier_learns_and_its_fid_separates_data_from_noise(mnist_classifier):
    """3 epochs on 6k MNIST images: > 90% test accuracy; FID between two halves of the test set
    (random halves) is small against FID between the test set and noise, and the train/test FID is small too."""
    model, data = mnist_classifier
    test = data.test.images.reshape(len(data.test), -1)
    assert accuracy(model, test, data.test.labels) > 0.90
    train = data.train.images[10_000:15_000].reshape(5000, -1)
    # A random split: the official test set's first and second halves come from different writers.
    shuffled = test[torch.randperm(10_000, generator=torch.Generator().manual_seed(4))]
    halves = fid(model, shuffled[:5000], shuffled[5000:])
    noise = fid(model, test[:5000], torch.rand(5000, 784, generator=torch.Generator().manual_seed(3)))
    assert halves < 0.02 * noise
    assert fid(model, train, test[:5000]) < 0.05 * noise
    assert features(model, test[:10]).shape == (10, 128)
