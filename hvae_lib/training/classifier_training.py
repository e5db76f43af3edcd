"""Training the FID feature classifier: Adam, cross-entropy, a few epochs, seeded."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hvae_lib.models.feature_classifier import FeatureClassifier


def train_classifier(
    images: torch.Tensor, labels: torch.Tensor, epochs: int = 3, batch_size: int = 128,
    learning_rate: float = 1e-3, seed: int = 0,
) -> FeatureClassifier:
    """A ``FeatureClassifier`` trained on flat images (N, 784) in [0, 1] with integer labels."""
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = FeatureClassifier(classes=int(labels.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(images.shape[0], generator=generator)
        for start in range(0, images.shape[0], batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: FeatureClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Share of correctly classified images."""
    predictions = torch.cat([model(images[i : i + batch_size]).argmax(-1) for i in range(0, images.shape[0], batch_size)])
    return float((predictions == labels).float().mean())
