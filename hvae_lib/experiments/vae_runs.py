"""Train and evaluate one configuration of the VAE as an ensemble of runs, cached per run.

A run is identified by its configuration (model, d, ...) and its seed. Its initial parameters
and every random number of its training come from two seeds derived from that identity alone
(``run_seeds``), so the same run computed alone, in another ensemble, or after an interruption
gives the same numbers. Its cache key adds everything that changes its result: the protocol
(schedule, precision, architecture, likelihood, importance samples) and the data (data set,
split sizes, split seed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import torch

from hvae_lib.evaluation import evaluate_vae
from hvae_lib.models.vae import VAE
from hvae_lib.results import EARLIER_WALL_S, RunStore
from hvae_lib.training.vae_training import VALIDATION_BINARIZATION_SEED, TrainingOutcome, TrainingSchedule, train_ensemble

TEST_BINARIZATION_SEED = 2018


@dataclass(frozen=True)
class VAEProtocol:
    """Everything that defines a VAE experiment apart from the model, the data and the seeds."""

    schedule: TrainingSchedule
    hidden: tuple[int, ...]
    iwae_samples: int
    likelihood: str = "bernoulli"
    noise_scale: float = 1.0
    binarization: str = "dynamic"
    circle_sampler: str = "vmf"
    activation: str = "relu"

    def __post_init__(self):
        if self.binarization not in BINARIZATIONS:
            raise ValueError(f"binarization must be one of {BINARIZATIONS}, got {self.binarization!r}")

    def tag(self) -> str:
        """A short hash of the protocol, part of every run's key: a changed protocol never
        reuses results computed under another. Settings added after runs were cached
        (``LATER_SETTINGS``) enter the hash only away from their defaults, so those runs keep
        their keys."""
        return _digest(_without_later_defaults(asdict(self)))


# Binarisation of binary training data: "dynamic" draws every batch afresh from the run's
# generator; "fixed" binarises the training images once with TRAIN_BINARIZATION_SEED, the same
# sample for every run (the earlier reproduction's; kept to measure that defect).
BINARIZATIONS = ("dynamic", "fixed")
TRAIN_BINARIZATION_SEED = 2019
LATER_SETTINGS = {"binarization": "dynamic", "circle_sampler": "vmf", "selection": "after_warmup", "activation": "relu", "gradient": "g_rep"}


def _without_later_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_later_defaults(v) for k, v in value.items() if not (k in LATER_SETTINGS and v == LATER_SETTINGS[k])}
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_seeds(identity: Mapping[str, Any], seed: int) -> tuple[int, int, int]:
    """(initialisation, training, evaluation) seeds of run ``seed`` of the configuration
    ``identity`` (e.g. {"model": "S-VAE", "d": 5}): 63-bit integers from a hash of both,
    independent of the protocol, so a protocol ablation (float32 vs bfloat16) compares runs with
    the same initial parameters and the same random numbers."""
    text = json.dumps({"identity": dict(identity), "seed": int(seed)}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 8], "little") >> 1 for i in (0, 8, 16))


def run_config(identity: Mapping[str, Any], protocol: VAEProtocol, data: Mapping[str, Any]) -> dict[str, Any]:
    """The cache key's configuration of a run: its identity, the protocol's and the data's tags."""
    return {**identity, "protocol": protocol.tag(), "data": _digest(dict(data))}


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class TrainedRuns:
    """What ``run_vae`` hands to its ``after_training`` hook: the trained ensemble (parameters
    chosen by early stopping, float32), its seeds and the training outcome."""

    model: VAE
    seeds: list[int]
    outcome: TrainingOutcome
    config: dict[str, Any]


def protocol_vae(x_dim: int, latent: str, d: int, init_seeds: Sequence[int], protocol: VAEProtocol) -> VAE:
    """The untrained ensemble ``protocol`` specifies (architecture, likelihood, sampler), run r
    initialised from ``init_seeds[r]``: also the shell a stored run's parameters are loaded into."""
    return VAE.from_seeds(
        x_dim, latent, d, init_seeds, hidden=protocol.hidden, likelihood=protocol.likelihood,
        noise_scale=protocol.noise_scale, circle_sampler=protocol.circle_sampler, activation=protocol.activation,
    )


def run_vae(
    store: RunStore,
    identity: Mapping[str, Any],
    latent: str,
    d: int,
    seeds: Sequence[int],
    protocol: VAEProtocol,
    data: Mapping[str, Any],
    train_x: torch.Tensor,
    valid_x: torch.Tensor,
    test_x: torch.Tensor,
    after_training: Callable[[TrainedRuns], None] | None = None,
    seed_plan: Callable[[int], tuple[int, int, int, dict[str, int]]] | None = None,
) -> pd.DataFrame:
    """Train (or read from ``store``) the runs ``seeds`` of one configuration; one row per run.

    ``identity`` names the configuration (its keys and values appear in the table), ``data``
    describes the data (sizes, split seed: anything that changes them), both part of the key.
    Binary data (``likelihood="bernoulli"``) are binarised dynamically for training (once, with
    ``TRAIN_BINARIZATION_SEED``, under ``protocol.binarization = "fixed"``); the test set is
    binarised once with a fixed seed, the same for every model. Each run's validation ELBO per
    epoch is stored as its ``history.csv`` artifact. ``after_training`` runs on the trained
    ensemble before it is dropped (to store what later chapters need from the models).
    ``seed_plan(seed)`` replaces ``run_seeds``: (initialisation, training, evaluation seeds, and
    seeds for the training streams that get generators of their own), for designs that vary one
    source of randomness; its runs need an ``identity`` of their own.
    """
    config = run_config(identity, protocol, data)
    binary = protocol.likelihood == "bernoulli"
    target = device()

    def compute(missing: list[int]) -> list[dict[str, Any]]:
        plans = [seed_plan(seed) if seed_plan else (*run_seeds(identity, seed), {}) for seed in missing]
        init, train, evaluation, streams = zip(*plans)
        if len({tuple(sorted(s)) for s in streams}) > 1:
            raise ValueError(f"the runs of one ensemble must give the same streams their own seeds, got {streams}")
        model = protocol_vae(train_x.shape[1], latent, d, init, protocol).to(target)
        fixed = binary and protocol.binarization == "fixed"
        images = binarize_once(train_x, TRAIN_BINARIZATION_SEED) if fixed else train_x
        valid = binarize_once(valid_x, VALIDATION_BINARIZATION_SEED) if fixed else valid_x
        outcome = train_ensemble(
            model, images.to(target), valid.to(target), protocol.schedule, binarize=binary and not fixed,
            seeds=list(train), checkpoint=store.checkpoint_path(config, missing),
            stream_seeds={name: [s[name] for s in streams] for name in streams[0]},
        )
        test = binarize_once(test_x) if binary else test_x
        metrics = evaluate_vae(model, test.to(target), protocol.iwae_samples, seeds=list(evaluation))
        for r, seed in enumerate(missing):
            _store_history(store, config, seed, outcome.history[r])
        if after_training is not None:
            after_training(TrainedRuns(model, missing, outcome, config))
        store.checkpoint_path(config, missing).unlink(missing_ok=True)
        return [
            {**m, "epochs": outcome.epochs[r], "best_epoch": outcome.best_epoch[r], "best_valid_elbo": outcome.best_valid_elbo[r],
             EARLIER_WALL_S: outcome.earlier_s}
            for r, m in enumerate(metrics)
        ]

    records = store.run_ensemble(config, list(seeds), compute, device=str(target))
    return pd.DataFrame([{**r["config"], "run": r["seed"], **r["metrics"], "wall_s": r["provenance"]["wall_s"]} for r in records])


def binarize_once(x: torch.Tensor, seed: int = TEST_BINARIZATION_SEED) -> torch.Tensor:
    """x ~ Bernoulli(intensities) drawn once with a fixed seed (the test set of every model)."""
    return torch.bernoulli(x, generator=torch.Generator().manual_seed(seed))


def _store_history(store: RunStore, config: Mapping[str, Any], seed: int, history: list[float]) -> None:
    path = store.artifact_path(config, seed, "history.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"epoch": range(len(history)), "valid_elbo": history})
    frame.to_csv(path, index=False, float_format="%.4f")


def store_latent_codes(store: RunStore, trained: TrainedRuns, x: torch.Tensor) -> None:
    """Store the posterior means (N-VAE) or mean directions (S-VAE) of ``x`` under every run as
    its ``latent_codes.csv`` artifact."""
    codes = posterior_codes(trained.model, x)
    for r, seed in enumerate(trained.seeds):
        path = store.artifact_path(trained.config, seed, "latent_codes.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(codes[r].cpu().numpy(), columns=[f"z{i}" for i in range(codes.shape[-1])])
        frame.to_csv(path, index=False, float_format="%.5f")


@torch.no_grad()
def posterior_codes(model: VAE, x: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
    """Posterior means (normal) or mean directions (spherical) of ``x`` (n, x_dim) under every
    run: shape (runs, n, z_dim), float32."""
    device = model.loc_head.weight.device
    parts = []
    for start in range(0, x.shape[0], batch_size):
        q = model.posterior(x[start : start + batch_size].to(device).expand(model.runs, -1, -1))
        parts.append(q.mean if model.latent == "normal" else q.loc)
    return torch.cat(parts, dim=1)


def latent_codes(store: RunStore, config: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """The latent codes stored by ``store_latent_codes`` for run (config, seed); ``config`` is a
    full key (from a row of ``run_vae``'s table: identity, protocol and data)."""
    return pd.read_csv(store.artifact_path(config, seed, "latent_codes.csv"))


def history(store: RunStore, config: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """The validation ELBO per epoch of run (config, seed)."""
    return pd.read_csv(store.artifact_path(config, seed, "history.csv"))
