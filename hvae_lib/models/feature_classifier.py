r"""A small CNN classifier whose penultimate layer is the feature space of the book's FID.

No Inception weights can be had offline, so FID on MNIST-like images uses the features of a
LeNet-style classifier trained here on the same data set (the practice of the KID paper for
MNIST): conv 5x5 (16) - ReLU - pool - conv 5x5 (32) - ReLU - pool - linear 128 - ReLU (the
features) - linear 10, about 0.2 M parameters. Inputs are flat 28 x 28 images in [0, 1], shape (batch, 784).
"""

from __future__ import annotations

import torch
from torch import nn


class FeatureClassifier(nn.Module):
    """LeNet-style classifier; ``features`` gives the 128-d penultimate activations."""

    num_features = 128  # read by torchmetrics' FrechetInceptionDistance for a custom network

    def __init__(self, classes: int = 10, side: int = 28):
        super().__init__()
        self.side = side
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * (side // 4) ** 2, self.num_features), nn.ReLU(),
        )
        self.classify = nn.Linear(self.num_features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 128) for flat images (batch, side * side) or (batch, 1, side, side)."""
        return self.body(x.reshape(-1, 1, self.side, self.side))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.classify(self.features(x))
