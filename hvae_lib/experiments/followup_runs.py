"""The follow-up paper's runs, shared by its two chapters: the FID classifier of each data set,
and the standard and compressed VAEs, trained, evaluated and cached per run.

Profiles: ``smoke`` (seconds: a few thousand images, 2 epochs), ``cpu`` (the MLP on the full
60k / 10k split, 20 epochs for the MNIST pair, 12 for the Fashion-MNIST grid, the annealing
rescaled to the first third of training as the reference's A5 describes), ``full`` (the
residual network, 300 epochs, annealing over 100; for a GPU).

A run's record holds its scalar metrics; its artifacts (committed) hold what the figures need:
image grids, the 3-D view of 2000 test codes, the cosine moments, the PCA spectrum, the training
history and, for the figure runs, the t-SNE of the test codes. Models themselves are not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from hvae_lib.data import load_images
from hvae_lib.evaluation.fid import features
from hvae_lib.evaluation.image_vae_metrics import (
    code_geometry,
    codes,
    decode,
    generation_scores,
    knn_accuracy,
    reconstruction_errors,
)
from hvae_lib.evaluation.island import GaussIsland, StandardNormal, VMFIsland
from hvae_lib.evaluation.latent_geometry import block_average_projection, cosine_moments, pca_spectrum
from hvae_lib.experiments.vae_runs import _digest, run_seeds
from hvae_lib.models.compression_loss import SIGMA_GAINS, CompressionLoss
from hvae_lib.models.feature_classifier import FeatureClassifier
from hvae_lib.models.image_vae import ImageVAE
from hvae_lib.results import RunStore
from hvae_lib.results.store import run_key
from hvae_lib.training.classifier_training import accuracy, train_classifier
from hvae_lib.training.image_vae_training import ImageVAESchedule, train_image_vae

MODELS = ("standard", "compressed")


@dataclass(frozen=True)
class FollowupProfile:
    """Sizes and budgets of one profile."""

    architecture: str
    train_size: int | None  # None: all 60k training images
    test_size: int
    figure1_epochs: int
    grid_epochs: int
    anneal_share: float  # the annealing lasts this share of training (100 of 300 epochs: 1/3)
    samples: int  # images generated per sampler for FID
    classifier_epochs: int
    figure1_n: int
    figure1_seeds: tuple[int, ...]
    grid_dims: tuple[int, ...]
    grid_seeds: tuple[int, ...]
    headline_seeds: tuple[int, ...]  # seeds of the grid's cells at n = figure1_n
    tsne_points: int
    betas: tuple[tuple[str, tuple[float, ...]], ...]  # beta_target values per model

    def beta_targets(self, model: str) -> tuple[float, ...]:
        return dict(self.betas)[model]


# beta targets: the authors' 2500 for the compressed VAE and a decade below it; for the standard
# VAE, 4-epoch pilots on MNIST at n = 128 (0.3, 1, 3, 10) found reconstruction and prior-sample
# FID both worse with every step up, and the KL collapsing at 10, so 0.3 and 1.
_BETAS = (("standard", (0.3, 1.0)), ("compressed", (250.0, 2500.0)))
PROFILES = {
    "smoke": FollowupProfile("mlp", 2000, 1000, 2, 2, 1 / 3, 1000, 1, 16, (0,), (8, 16), (0,), (0,), 200, _BETAS),
    "cpu": FollowupProfile("mlp", None, 10000, 20, 12, 1 / 3, 10000, 3, 128, (0, 1, 2), (16, 32, 64, 128, 256), (0,), (0, 1, 2), 5000, _BETAS),
    "full": FollowupProfile("resnet", None, 10000, 300, 300, 1 / 3, 10000, 5, 128, (0, 1, 2), (16, 32, 64, 128, 256), (0,), (0, 1, 2), 5000, _BETAS),
}
FIGURE1_BETA = {"standard": 1.0, "compressed": 2500.0}


def profile_settings(profile: str) -> FollowupProfile:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {tuple(PROFILES)}, got {profile!r}")
    return PROFILES[profile]


def _flat(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(images.shape[0], -1).float()


@dataclass
class FollowupData:
    """Flat train and test images in [0, 1] with labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.name, "train": len(self.train_y), "test": len(self.test_y), "split": "official 60k/10k"}


def load_data(dataset: str, profile: str) -> FollowupData:
    """The official 60k / 10k split (no validation set: the follow-up trains a fixed budget)."""
    settings = profile_settings(profile)
    data = load_images(dataset, validation_size=0)
    train_n = settings.train_size or len(data.train)
    return FollowupData(dataset, _flat(data.train.images[:train_n]), data.train.labels[:train_n],
                        _flat(data.test.images[: settings.test_size]), data.test.labels[: settings.test_size])


def classifier(dataset: str, profile: str) -> tuple[FeatureClassifier, float]:
    """The FID feature classifier of ``dataset`` and its test accuracy (the committed record).

    Training is seeded; the weights are a local build product kept with the checkpoints (not
    committed): where they are missing the classifier is trained again (about a minute)."""
    settings = profile_settings(profile)
    store = RunStore("followup_classifier", profile)
    data = load_data(dataset, profile)
    config = {"dataset": dataset, "epochs": settings.classifier_epochs, "data": _digest(data.describe()), "network": "lenet16-32-128"}
    weights = store.folder / "checkpoints" / f"{run_key(config, 0)}.pt"

    def train() -> FeatureClassifier:
        model = train_classifier(data.train_x, data.train_y, epochs=settings.classifier_epochs, seed=0)
        weights.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), weights)
        return model

    record = store.run(config, 0, lambda: {"test_accuracy": accuracy(train(), data.test_x, data.test_y),
                                           "epochs": settings.classifier_epochs})
    if not weights.exists():
        return train(), record["metrics"]["test_accuracy"]
    model = FeatureClassifier()
    model.load_state_dict(torch.load(weights, weights_only=True))
    return model.eval(), record["metrics"]["test_accuracy"]


def schedule(profile: str, epochs: int, beta_target: float, annealing: str = "code") -> ImageVAESchedule:
    settings = profile_settings(profile)
    full_length = profile == "full"
    return ImageVAESchedule(
        epochs=epochs, beta_target=beta_target, annealing=annealing,
        anneal_epochs=100 if full_length else max(1, round(settings.anneal_share * epochs)),
    )


def compression_loss(dataset: str, **switches) -> CompressionLoss:
    """The code variant's loss with the data set's G_sigma; ``switches`` override any setting."""
    return CompressionLoss(**{"sigma_gain": SIGMA_GAINS[dataset], **switches})


def run_models(
    profile: str, dataset: str, model: str, n: int, beta_target: float, seeds: Sequence[int], epochs: int,
    tsne: bool = False, loss_switches: dict[str, Any] | None = None, annealing: str = "code",
) -> pd.DataFrame:
    """Train (or read) runs ``seeds`` of one configuration; one row of metrics per run."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    settings = profile_settings(profile)
    store = RunStore("followup", profile)
    data = load_data(dataset, profile)
    loss = compression_loss(dataset, **(loss_switches or {})) if model == "compressed" else None
    plan = schedule(profile, epochs, beta_target, annealing)
    identity = {"dataset": dataset, "model": model, "n": n, "beta_target": beta_target}
    config = {
        **identity, "architecture": settings.architecture, "epochs": epochs,
        "schedule": _digest(asdict(plan)), "loss": _digest(asdict(loss)) if loss else "standard",
        "data": _digest(data.describe()), "evaluation": _digest({"samples": settings.samples, "tsne": tsne}),
    }
    def compute(missing: list[int]) -> list[dict[str, Any]]:
        feature_net, _ = classifier(dataset, profile)
        init, train, evaluation = zip(*(run_seeds({**identity, "switches": loss_switches or {}}, seed) for seed in missing))
        vae = ImageVAE.from_seeds(n, list(init), architecture=settings.architecture, normalize_z=model == "compressed")
        history = train_image_vae(vae, data.train_x, plan, loss, seeds=list(train))
        results = []
        for r, seed in enumerate(missing):
            metrics, artifacts = evaluate_run(vae, r, data, feature_net, settings, int(evaluation[r]), tsne)
            metrics["epochs"] = epochs
            metrics["final_beta_eff"] = history.beta_eff[-1][r]
            metrics["seconds_per_epoch"] = float(np.median(history.seconds)) / len(missing)
            artifacts["history"] = pd.DataFrame({
                "epoch": range(epochs), "edt": [h[r] for h in history.edt],
                "regulariser": [h[r] for h in history.regulariser], "sigma_norm": [h[r] for h in history.sigma_norm],
            })
            _store_artifacts(store, config, seed, artifacts)
            results.append(metrics)
        return results

    records = store.run_ensemble(config, list(seeds), compute)
    return pd.DataFrame([{**r["config"], "run": r["seed"], "key": run_key(r["config"], r["seed"]), **r["metrics"]} for r in records])


def samplers(model: str, train_codes: torch.Tensor, test_codes: torch.Tensor) -> dict[str, object]:
    """The samplers applied to a model: its prior, and islands fitted to its training codes (and,
    "as in the paper", to its test codes)."""
    n = train_codes.shape[1]
    prior = GaussIsland(torch.zeros(n, dtype=torch.float64), torch.eye(n, dtype=torch.float64), n**0.5) if model == "compressed" else StandardNormal(n)
    chosen = {
        "prior": prior,
        "vMF island (train)": VMFIsland.fit(train_codes),
        "Gaussian island (train)": GaussIsland.fit(train_codes, project=model == "compressed"),
        "vMF island (test, as in the paper)": VMFIsland.fit(test_codes),
    }
    if model == "standard":
        chosen["Gaussian island on the sphere (train)"] = GaussIsland.fit(train_codes, project=True)
    return chosen


def evaluate_run(vae: ImageVAE, run: int, data: FollowupData, feature_net, settings: FollowupProfile,
                 seed: int, tsne: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics (flat) and artifacts of one trained run."""
    model = "compressed" if vae.normalize_z else "standard"
    train_codes, test_codes = codes(vae, run, data.train_x), codes(vae, run, data.test_x)
    reconstructed = decode(vae, run, test_codes)
    metrics: dict[str, Any] = reconstruction_errors(reconstructed, data.test_x)
    for k, value in knn_accuracy(train_codes, data.train_y, test_codes, data.test_y).items():
        metrics[f"knn_{k}"] = value
    chosen = samplers(model, train_codes, test_codes)
    real, rebuilt = features(feature_net, data.test_x), features(feature_net, reconstructed)
    scores = generation_scores(vae, run, chosen, settings.samples, seed, real, rebuilt, feature_net)
    for name, values in scores.items():
        for metric, value in values.items():
            metrics[f"{metric} | {name}"] = value
    prior_samples = chosen["prior"].sample(2000, seed)
    metrics.update(code_geometry(train_codes, test_codes, prior_samples))
    metrics["mean_code_norm"] = float(train_codes.norm(dim=1).mean())
    mean, sd, _ = cosine_moments(test_codes)
    grids = {"x": data.test_x[:10], "reconstruction": reconstructed[:10]}
    for name, sampler in chosen.items():
        grids[name] = decode(vae, run, sampler.sample(10, seed + 1))
    view = block_average_projection(test_codes[:2000]).numpy()
    artifacts: dict[str, pd.DataFrame] = {
        "grids": image_rows(grids),
        "view3d": pd.DataFrame({"x": view[:, 0], "y": view[:, 1], "z": view[:, 2], "label": data.test_y[:2000].numpy()}),
        "moments": pd.DataFrame({"k": range(1, vae.n), "mean": mean.numpy(), "sd": sd.numpy()}),
        "spectrum": pd.DataFrame({"component": range(1, vae.n + 1), "share": pca_spectrum(train_codes).numpy()}),
    }
    if tsne:
        xy = _tsne(test_codes[: settings.tsne_points])
        artifacts["tsne"] = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": data.test_y[: settings.tsne_points].numpy()})
    return metrics, artifacts


def _tsne(points: torch.Tensor) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(perplexity=30, init="pca", random_state=0).fit_transform(points.numpy()).astype(np.float32)


def image_rows(grids: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Rows of flat images in [0, 1] as a table: the row's name, then the grey levels 0-255."""
    frames = []
    for name, images in grids.items():
        levels = (images.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        frame = pd.DataFrame(levels, columns=[f"p{i}" for i in range(levels.shape[1])])
        frames.append(frame.assign(row=name)[["row", *frame.columns]])
    return pd.concat(frames, ignore_index=True)


def _store_artifacts(store: RunStore, config: dict[str, Any], seed: int, artifacts: dict[str, pd.DataFrame]) -> None:
    for name, frame in artifacts.items():
        path = store.artifact_path(config, seed, f"{name}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, float_format="%.6g")


def load_artifact(profile: str, key: str, name: str) -> pd.DataFrame:
    """Artifact ``name`` (a table) of the run with key ``key`` (the ``key`` column of ``run_models``)."""
    return pd.read_csv(RunStore("followup", profile).folder / "artifacts" / key / f"{name}.csv")


def figure1_runs(profile: str) -> pd.DataFrame:
    """The MNIST pair at n = ``figure1_n``: the standard and the compressed VAE, every figure seed,
    each with its t-SNE."""
    settings = profile_settings(profile)
    frames = [run_models(profile, "mnist", model, settings.figure1_n, FIGURE1_BETA[model], settings.figure1_seeds,
                         settings.figure1_epochs, tsne=True) for model in MODELS]
    return pd.concat(frames, ignore_index=True)


def grid_runs(profile: str, dataset: str = "fashion-mnist") -> pd.DataFrame:
    """The trade-off grid: both models x every latent dimension x each model's beta targets;
    the cells at n = ``figure1_n`` with the figure's beta have every headline seed."""
    settings = profile_settings(profile)
    frames = []
    for model in MODELS:
        for beta in settings.beta_targets(model):
            for n in settings.grid_dims:
                headline = n == settings.figure1_n and beta == FIGURE1_BETA[model]
                seeds = settings.headline_seeds if headline else settings.grid_seeds
                frames.append(run_models(profile, dataset, model, n, beta, seeds, settings.grid_epochs))
    return pd.concat(frames, ignore_index=True)


# The follow-up's claims about its own design (the reference's C9, C10 and C14), each tested by
# switching one setting of the code variant on the MNIST pair's compressed VAE: claim -> (what
# it says, {variant: (loss switches, annealing)}). The baseline is Figure 1's compressed runs.
ABLATIONS = {
    "C9": ("the √epoch annealing is needed", {"no annealing": ({}, "none"), "annealing held at 11": ({}, "hold")}),
    "C10": ("gains 50 √(n/k) work best", {"gains reversed": ({"gain_order": "reversed"}, "code"), "constant gains": ({"gain_order": "constant"}, "code")}),
    "C14": ("the results need full compression", {"half compression": ({"compress": "half"}, "code"), "first angle only": ({"compress": "first"}, "code")}),
}
ABLATION_BASELINE = "unchanged (Figure 1)"


def ablation_runs(profile: str) -> pd.DataFrame:
    """Every variant of ``ABLATIONS`` at the MNIST pair's setting (n = ``figure1_n``, the
    figure's beta target, epochs and seeds), with the baseline; one row per run with its
    ``claim`` and ``variant`` (the baseline's claim is empty)."""
    settings = profile_settings(profile)
    setting = ("mnist", "compressed", settings.figure1_n, FIGURE1_BETA["compressed"], settings.figure1_seeds, settings.figure1_epochs)
    frames = [run_models(profile, *setting, tsne=True).assign(claim="", variant=ABLATION_BASELINE)]
    for claim, (_, variants) in ABLATIONS.items():
        for variant, (switches, annealing) in variants.items():
            frames.append(run_models(profile, *setting, loss_switches=switches, annealing=annealing).assign(claim=claim, variant=variant))
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    """One unit of the follow-up's runs in a background job, e.g.
    ``python -m hvae_lib.experiments.followup_runs cpu ablations``."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", choices=tuple(PROFILES))
    parser.add_argument("part", choices=("figure1", "grid", "ablations"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    frame = {"figure1": figure1_runs, "grid": grid_runs, "ablations": ablation_runs}[args.part](args.profile)
    print(frame.drop(columns=[c for c in frame.columns if " | " in c]).to_string(index=False))
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
