r"""Everything the follow-up chapters measure on one trained image VAE (one run of an ensemble).

- **Reconstruction** of the test set from its codes (mu, on the sqrt(n) sphere for the compressed
  model): per-pixel MSE, per-image sum of squared errors, and RMSE as a % of the [0, 1] range (the
  authors' logged "DT"), since the paper's "MSE > 8" has unknown units.
- **Generation** from each sampler (``hvae_lib.evaluation.island``): FID of the decoded samples
  against the real test images, and the paper's self-FID against the reconstructed test set, in
  the feature space of a classifier trained on the same data (``hvae_lib.evaluation.fid``).
- **Codes**: k-NN accuracy (fit on the training codes, scored on the test codes), participation
  ratio and active units, the cosine moments, and the nearest-training-code distance of prior
  samples against that of test codes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from hvae_lib.evaluation.fid import features, frechet_distance
from hvae_lib.evaluation.knn import knn_predict
from hvae_lib.evaluation.latent_geometry import active_units, nearest_distances, participation_ratio
from hvae_lib.models.image_vae import ImageVAE


@torch.no_grad()
def codes(model: ImageVAE, run: int, images: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
    """Run ``run``'s deterministic codes (``ImageVAE.embed``) of flat images (N, D)."""
    out = []
    for part in images.split(batch_size):
        x = part.unsqueeze(0).expand(model.runs, -1, -1)
        out.append(model.embed(x)[run])
    return torch.cat(out)


@torch.no_grad()
def decode(model: ImageVAE, run: int, z: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
    """Run ``run``'s decoded images (N, D) of codes z (N, n)."""
    out = []
    for part in z.split(batch_size):
        out.append(model.decode(part.unsqueeze(0).expand(model.runs, -1, -1))[run])
    return torch.cat(out)


def reconstruction_errors(reconstructed: torch.Tensor, images: torch.Tensor) -> dict[str, float]:
    """Per-pixel MSE, per-image SSE and RMSE in % of the [0, 1] range."""
    mse = float((reconstructed - images).square().mean())
    return {"mse_pixel": mse, "sse_image": mse * images.shape[1], "rmse_percent": 100 * math.sqrt(mse)}


def knn_accuracy(train_codes, train_labels, test_codes, test_labels, ks=(1, 3, 5, 10), chunk: int = 1000) -> dict[int, float]:
    """Test accuracy of k-NN on the codes (Euclidean), every training code labelled."""
    correct = {k: 0 for k in ks}
    for start in range(0, test_codes.shape[0], chunk):
        predictions = knn_predict(train_codes, train_labels, test_codes[start : start + chunk], ks)
        for k in ks:
            correct[k] += int((predictions[k] == test_labels[start : start + chunk]).sum())
    return {k: correct[k] / test_codes.shape[0] for k in ks}


def generation_scores(model: ImageVAE, run: int, samplers: Mapping[str, object], count: int, seed: int,
                      real_features: torch.Tensor, reconstructed_features: torch.Tensor, classifier) -> dict[str, dict[str, float]]:
    """FID against real test images and self-FID against reconstructions, per sampler, with the
    classifier's label entropy of the samples (low: few classes generated)."""
    scores = {}
    for name, sampler in samplers.items():
        generated = decode(model, run, sampler.sample(count, seed))
        generated_features = features(classifier, generated)
        with torch.no_grad():
            classes = torch.cat([classifier(part).argmax(-1) for part in generated.split(5000)])
        shares = torch.bincount(classes, minlength=10).double() / count
        entropy = float(-(shares[shares > 0] * shares[shares > 0].log()).sum())
        scores[name] = {
            "fid": frechet_distance(generated_features, real_features),
            "self_fid": frechet_distance(generated_features, reconstructed_features),
            "class_entropy": entropy,
        }
    return scores


def code_geometry(train_codes: torch.Tensor, test_codes: torch.Tensor, prior_samples: torch.Tensor, points: int = 2000) -> dict[str, float]:
    """Participation ratio and active units of the training codes; the median distance to the
    nearest training code of ``points`` prior samples and of ``points`` test codes."""
    return {
        "participation_ratio": participation_ratio(train_codes),
        "active_units": active_units(train_codes),
        "prior_nn_distance": float(nearest_distances(prior_samples[:points], train_codes).median()),
        "test_nn_distance": float(nearest_distances(test_codes[:points], train_codes).median()),
    }
