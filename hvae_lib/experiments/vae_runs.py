"""Train and evaluate one configuration of the VAE as an ensemble of runs, cached per run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import torch

from hvae_lib.evaluation import evaluate_vae
from hvae_lib.models.vae import VAE
from hvae_lib.results import RunStore
from hvae_lib.training.vae_training import TrainingSchedule, train_ensemble


@dataclass(frozen=True)
class VAEProtocol:
    """Everything that defines a VAE experiment apart from the model and the seeds."""

    schedule: TrainingSchedule
    hidden: tuple[int, ...]
    iwae_samples: int
    likelihood: str = "bernoulli"
    noise_scale: float = 1.0

    def tag(self) -> str:
        """A short hash of the protocol, part of every run's key: a changed protocol never
        reuses results computed under another."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_vae(
    store: RunStore,
    config: Mapping[str, Any],
    latent: str,
    d: int,
    seeds: Sequence[int],
    protocol: VAEProtocol,
    train_x: torch.Tensor,
    valid_x: torch.Tensor,
    test_x: torch.Tensor,
    latent_codes_of: torch.Tensor | None = None,
) -> pd.DataFrame:
    """Train (or read from ``store``) the runs ``seeds`` of one configuration; one row per run.

    Binary data (``likelihood="bernoulli"``) are binarised dynamically for training; the test
    set ``test_x`` is binarised once with a fixed seed, the same for every model. With
    ``latent_codes_of`` (n, x_dim), each run stores the posterior mean directions / means of
    those inputs as ``latent_codes.csv`` beside its record.
    """
    config = {**config, "protocol": protocol.tag()}
    binary = protocol.likelihood == "bernoulli"
    target = device()

    def compute(missing: list[int]) -> list[dict[str, Any]]:
        generator = torch.Generator().manual_seed(1000 * d + missing[0])
        model = VAE(
            train_x.shape[1], latent, d, protocol.hidden, runs=len(missing),
            likelihood=protocol.likelihood, noise_scale=protocol.noise_scale, generator=generator,
        ).to(target)
        outcome = train_ensemble(
            model, train_x.to(target), valid_x.to(target), protocol.schedule, binarize=binary,
            seed=missing[0], checkpoint=store.checkpoint_path(config, missing),
        )
        test = torch.bernoulli(test_x, generator=torch.Generator().manual_seed(2018)) if binary else test_x
        metrics = evaluate_vae(model, test.to(target), protocol.iwae_samples)
        if latent_codes_of is not None:
            _store_latent_codes(store, config, missing, model, latent_codes_of.to(target))
        store.checkpoint_path(config, missing).unlink(missing_ok=True)
        return [
            {**m, "epochs": outcome.epochs, "best_epoch": outcome.best_epoch[r]}
            for r, m in enumerate(metrics)
        ]

    records = store.run_ensemble(config, list(seeds), compute, device=str(target))
    return pd.DataFrame([{**r["config"], "run": r["seed"], **r["metrics"], "wall_s": r["provenance"]["wall_s"]} for r in records])


@torch.no_grad()
def _store_latent_codes(store: RunStore, config: Mapping[str, Any], seeds: list[int], model: VAE, x: torch.Tensor) -> None:
    q = model.posterior(x.expand(model.runs, -1, -1))
    codes = q.mean if model.latent == "normal" else q.loc
    for r, seed in enumerate(seeds):
        path = store.artifact_path(config, seed, "latent_codes.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(codes[r].cpu().numpy(), columns=[f"z{i}" for i in range(codes.shape[-1])])
        frame.to_csv(path, index=False, float_format="%.5f")


def latent_codes(store: RunStore, config: Mapping[str, Any], protocol: VAEProtocol, seed: int) -> pd.DataFrame:
    """The latent codes stored by ``run_vae`` for run (config, seed)."""
    return pd.read_csv(store.artifact_path({**config, "protocol": protocol.tag()}, seed, "latent_codes.csv"))
