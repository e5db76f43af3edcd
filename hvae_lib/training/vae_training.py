r"""Training an ensemble of VAEs: Adam, linear KL warm-up, early stopping, resumable.

Loss of run r on a batch: -(1/n) sum_i [log p(x_i | z_i) - beta KL(q(z|x_i) || p(z))], with beta
rising linearly (per step) from 0 to ``final_beta`` (1 by default) over ``warmup_epochs`` epochs. The losses of the
runs are summed, which leaves each run's gradient and Adam update exactly as if it trained alone.
Each run draws its own batches (its own permutation of the training set) and, for binary data,
its own Bernoulli draws every time a batch is served.

Early stopping follows the validation ELBO at beta = 1 (never the warm-up-weighted loss), and
only epochs that ran entirely at beta = 1 are candidates: a model is never chosen from inside
the warm-up. Each run keeps its best parameters and stops counting once it has gone ``patience``
epochs without improving; training ends when every run has stopped or at ``max_epochs``.

With a ``checkpoint`` path the full state (parameters, optimiser, best parameters, counters,
random generator) is written atomically after every epoch, and training resumes from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from hvae_lib.models.vae import VAE


@dataclass(frozen=True)
class TrainingSchedule:
    """Optimisation and stopping settings (the paper's: Adam 1e-3, batch 64, warm-up 100,
    patience 50, at most 500 epochs). ``final_beta`` < 1 trains a beta-VAE (Figure 1's
    down-weighted KL); early stopping still follows the ELBO at beta = 1."""

    max_epochs: int
    warmup_epochs: int
    patience: int
    batch_size: int = 64
    learning_rate: float = 1e-3
    final_beta: float = 1.0

    def __post_init__(self):
        if not 0 <= self.warmup_epochs < self.max_epochs:
            raise ValueError(
                f"warmup_epochs must be in [0, max_epochs) so that some epoch runs at beta = 1, "
                f"got warmup_epochs={self.warmup_epochs}, max_epochs={self.max_epochs}"
            )
        if self.patience < 1 or self.batch_size < 1:
            raise ValueError(f"patience and batch_size must be positive, got {self.patience}, {self.batch_size}")


@dataclass
class TrainingOutcome:
    """Per run: the epoch chosen by early stopping, its validation ELBO, the epochs trained."""

    best_epoch: list[int]
    best_valid_elbo: list[float]
    epochs: int
    history: list[list[float]] = field(default_factory=list)


def train_ensemble(
    model: VAE,
    train_x: torch.Tensor,
    valid_x: torch.Tensor,
    schedule: TrainingSchedule,
    binarize: bool,
    seed: int,
    checkpoint: Path | None = None,
    valid_seed: int = 1234,
) -> TrainingOutcome:
    """Train every run of ``model`` on ``train_x`` (n, x_dim); load each run's best parameters.

    ``binarize`` draws x ~ Bernoulli(train_x) for every batch served (dynamic binarisation);
    the validation set is binarised once with ``valid_seed``.
    """
    device = model.loc_head.weight.device
    runs, n = model.runs, train_x.shape[0]
    steps_per_epoch = -(-n // schedule.batch_size)
    generator = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.learning_rate)
    valid = _fixed_binarization(valid_x, valid_seed) if binarize else valid_x
    state = {
        "epoch": 0,
        "best_params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "best_elbo": torch.full((runs,), -torch.inf, device=device),
        "best_epoch": torch.full((runs,), -1, dtype=torch.long, device=device),
        "stale": torch.zeros(runs, dtype=torch.long, device=device),
        "history": [],
    }
    if checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        _set_global_rng(saved["global_rng"], device)
        state = saved["state"]

    epochs = tqdm(range(state["epoch"], schedule.max_epochs), initial=state["epoch"], total=schedule.max_epochs, disable=None, desc="epochs")
    for epoch in epochs:
        model.train()
        order = torch.argsort(torch.rand(runs, n, generator=generator, device=device), dim=1)
        for step in range(steps_per_epoch):
            index = order[:, step * schedule.batch_size : (step + 1) * schedule.batch_size]
            x = train_x[index]
            if binarize:
                x = torch.bernoulli(x, generator=generator)
            progress = (epoch * steps_per_epoch + step + 1) / (schedule.warmup_epochs * steps_per_epoch)
            beta = schedule.final_beta * (min(1.0, progress) if schedule.warmup_epochs else 1.0)
            reconstruction, kl = model.elbo_terms(x)
            loss = (beta * kl - reconstruction).mean(dim=1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        elbo = validation_elbo(model, valid)
        state["history"].append(elbo.tolist())
        if epoch >= schedule.warmup_epochs:
            _track_best(model, state, elbo, epoch)
        state["epoch"] = epoch + 1
        epochs.set_postfix(valid_elbo=f"{elbo.mean():.2f}")
        if checkpoint is not None:
            _save_atomic(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "global_rng": _global_rng(device),
                    "state": state,
                },
                checkpoint,
            )
        if bool((state["stale"] >= schedule.patience).all()):
            break

    model.load_state_dict(state["best_params"])
    return TrainingOutcome(
        best_epoch=state["best_epoch"].tolist(),
        best_valid_elbo=state["best_elbo"].tolist(),
        epochs=state["epoch"],
        history=state["history"],
    )


@torch.no_grad()
def validation_elbo(model: VAE, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """The ELBO at beta = 1 (one posterior sample per example), averaged over ``x``; per run."""
    model.eval()
    total = torch.zeros(model.runs, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        chunk = x[start : start + batch_size].expand(model.runs, -1, -1)
        reconstruction, kl = model.elbo_terms(chunk)
        total += (reconstruction - kl).sum(dim=1)
    return total / x.shape[0]


def _track_best(model: VAE, state: dict, elbo: torch.Tensor, epoch: int) -> None:
    """Keep the parameters of every run whose validation ELBO improved; count the others stale."""
    improved = elbo > state["best_elbo"]
    state["best_elbo"] = torch.where(improved, elbo, state["best_elbo"])
    state["best_epoch"] = torch.where(improved, torch.full_like(state["best_epoch"], epoch), state["best_epoch"])
    state["stale"] = torch.where(improved, torch.zeros_like(state["stale"]), state["stale"] + 1)
    for name, value in model.state_dict().items():
        state["best_params"][name][improved] = value[improved].detach()


def _global_rng(device: torch.device) -> torch.Tensor:
    """The state of the global generator that posterior sampling draws from on ``device``."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_global_rng(rng_state: torch.Tensor, device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(rng_state, device)
    else:
        torch.set_rng_state(rng_state)


def _fixed_binarization(x: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return torch.bernoulli(x, generator=generator)


def _save_atomic(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
