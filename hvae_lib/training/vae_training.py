r"""Training an ensemble of VAEs: Adam, linear KL warm-up, per-run early stopping, resumable.

Loss of run r on a batch: -(1/n) sum_i [log p(x_i | z_i) - beta KL(q(z|x_i) || p(z))], with beta
rising linearly (per step) from 0 to ``final_beta`` (1 by default) over ``warmup_epochs`` epochs
(``warmup_epochs = 0``: beta = ``final_beta`` from the first step). The step is
``hvae_lib.training.flat_vae.FlatVAE``'s: every run's update is the one it would get alone.

Randomness belongs to the run. Run r owns one generator, seeded with its own seed, that draws its
batch order (a permutation of the training set per epoch), its Bernoulli draws for dynamic
binarisation and its posterior samples (``hvae_lib.distributions.RunNoise``). With its initial
parameters also drawn from its seed alone (``VAE.from_seeds``), a run gives the same numbers
trained alone or in any ensemble. ``stream_seeds`` can give any of the three streams
(``STREAMS``: "order", "binarization", "noise") its own generator per run, so that one source
of randomness varies while the others stay fixed (the critique's seed sensitivity).

Early stopping follows the validation ELBO at beta = 1 (never the warm-up-weighted loss); only
epochs that ran entirely at beta = 1 are candidates, so a model is never chosen from inside the
warm-up. (``selection="weighted_loss"`` instead follows the validation objective at the epoch's
beta, with every epoch a candidate: the earlier reproduction's rule, which picks models from
inside the warm-up; kept to measure that defect.) An epoch improves on a run's best when it beats it by more than ``min_improvement``
nats. A run that has gone ``patience`` candidate epochs without improving is frozen: its chosen
parameters and best epoch are final, and it leaves the ensemble (it costs nothing afterwards).
Training ends when every run is frozen or at ``max_epochs``. A run whose validation ELBO was
never finite after the warm-up raises ``FloatingPointError``.

With a ``checkpoint`` path the full state (parameters, Adam state, best parameters, counters,
every run's generator) is written atomically every ``checkpoint_every`` epochs, and training
resumes from it with the same numbers as an uninterrupted run. The checkpoint also keeps the
seconds trained up to it, so a resumed ensemble reports the time of its earlier processes
(``TrainingOutcome.earlier_s``; the epochs after an interrupted process's last checkpoint are
trained again and counted once).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from hvae_lib.distributions import RunNoise
from hvae_lib.models.vae import VAE
from hvae_lib.training.flat_vae import GRADIENTS, PRECISIONS, FlatVAE


SELECTIONS = ("after_warmup", "weighted_loss")
VALIDATION_BINARIZATION_SEED = 1234
# The random streams of a run: its batch order, its dynamic binarisation, its posterior samples.
STREAMS = ("order", "binarization", "noise")


@dataclass(frozen=True)
class TrainingSchedule:
    """Optimisation and stopping settings (the paper's, as far as known: Adam 1e-3, warm-up 100,
    patience 50, at most 500 epochs). ``final_beta`` < 1 trains a beta-VAE (Figure 1's
    down-weighted KL); early stopping still follows the ELBO at beta = 1. ``precision`` is the
    dtype of the wide layers' matmuls in training ("float32" or "bfloat16"); evaluation is
    always float32. ``gradient`` is the vMF reconstruction gradient's estimator, "g_rep" (the
    official code's) or "g_rep+g_cor" (the paper's; see ``flat_vae``)."""

    max_epochs: int
    warmup_epochs: int
    patience: int
    batch_size: int = 64
    learning_rate: float = 1e-3
    final_beta: float = 1.0
    min_improvement: float = 0.0
    precision: str = "float32"
    selection: str = "after_warmup"
    gradient: str = "g_rep"

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        if not 0 <= self.warmup_epochs < self.max_epochs:
            raise ValueError(
                f"warmup_epochs must be in [0, max_epochs) so that some epoch runs at beta = 1, "
                f"got warmup_epochs={self.warmup_epochs}, max_epochs={self.max_epochs}"
            )
        if self.patience < 1 or self.batch_size < 1:
            raise ValueError(f"patience and batch_size must be positive, got {self.patience}, {self.batch_size}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {self.precision!r}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {self.gradient!r}")
        if self.min_improvement < 0:
            raise ValueError(f"min_improvement must be >= 0, got {self.min_improvement}")


@dataclass
class TrainingOutcome:
    """Per run: the epoch chosen by early stopping (0-based), its validation ELBO, the number of
    epochs it trained, and its validation ELBO after every epoch it trained. ``earlier_s``: the
    seconds the ensemble trained in earlier processes, up to the checkpoint it resumed from (0 for
    a fresh start)."""

    best_epoch: list[int]
    best_valid_elbo: list[float]
    epochs: list[int]
    history: list[list[float]] = field(default_factory=list)
    earlier_s: float = 0.0


def train_ensemble(
    model: VAE,
    train_x: torch.Tensor,
    valid_x: torch.Tensor,
    schedule: TrainingSchedule,
    binarize: bool,
    seeds: list[int],
    checkpoint: Path | None = None,
    valid_seed: int = VALIDATION_BINARIZATION_SEED,
    checkpoint_every: int = 5,
    stream_seeds: Mapping[str, Sequence[int]] | None = None,
) -> TrainingOutcome:
    """Train every run of ``model`` on ``train_x`` (n, x_dim); load each run's chosen parameters.

    ``seeds`` (one per run) seed each run's generator; ``stream_seeds`` ({stream: one seed per
    run}) gives the streams it names generators of their own. ``binarize`` draws
    x ~ Bernoulli(train_x) for every batch served (dynamic binarisation); the validation set is
    binarised once with ``valid_seed``, the same for every run.
    """
    if len(seeds) != model.runs:
        raise ValueError(f"need one seed per run: {model.runs} runs, {len(seeds)} seeds")
    stream_seeds = dict(stream_seeds or {})
    unknown = set(stream_seeds) - set(STREAMS)
    if unknown or any(len(v) != model.runs for v in stream_seeds.values()):
        raise ValueError(f"stream_seeds needs one seed per run for streams among {STREAMS}, got {stream_seeds}")
    # Adam's moments of parameters whose gradient stays zero (weights of pixels that are never on)
    # decay into subnormal floats, which the CPU computes with tens of times slower; flushing
    # them to zero (they are below 1.2e-38) keeps the step at full speed.
    torch.set_flush_denormal(True)
    try:
        return _train(model, train_x, valid_x, schedule, binarize, seeds, checkpoint, valid_seed, checkpoint_every, stream_seeds)
    finally:
        torch.set_flush_denormal(False)


def _train(model, train_x, valid_x, schedule, binarize, seeds, checkpoint, valid_seed, checkpoint_every, stream_seeds) -> TrainingOutcome:
    device = model.loc_head.weight.device
    runs, n = model.runs, train_x.shape[0]
    steps_per_epoch = -(-n // schedule.batch_size)
    flat = FlatVAE(model, schedule.learning_rate, schedule.precision, schedule.gradient)
    generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
    own = {name: [torch.Generator(device=device).manual_seed(int(s)) for s in values] for name, values in stream_seeds.items()}
    streams = {name: own.get(name, generators) for name in STREAMS}
    batches = _Batches(train_x, binarize, flat.dtype)
    valid = _fixed_binarization(valid_x, valid_seed) if binarize else valid_x
    state = {
        "epoch": 0,
        "active": list(range(runs)),
        "best_rows": flat.rows(),
        "best_elbo": [-math.inf] * runs,
        "best_epoch": [-1] * runs,
        "stale": [0] * runs,
        "epochs": [0] * runs,
        "history": [[] for _ in range(runs)],
    }
    earlier_s = 0.0
    if checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        state, earlier_s = saved["state"], saved.get("trained_s", 0.0)
        flat.select(state["active"])
        flat.load_state_dict(saved["flat"])
        for generator, rng in zip(generators, saved["generators"]):
            generator.set_state(rng)
        for name, states in saved.get("streams", {}).items():
            for generator, rng in zip(own[name], states):
                generator.set_state(rng)

    start = time.perf_counter()
    progress = tqdm(range(state["epoch"], schedule.max_epochs), initial=state["epoch"], total=schedule.max_epochs, disable=None, desc="epochs")
    for epoch in progress:
        active = state["active"]
        noise = RunNoise([streams["noise"][r] for r in active])
        bits = RunNoise([streams["binarization"][r] for r in active])
        order = torch.stack([torch.randperm(n, generator=streams["order"][r], device=device) for r in active])
        for step in range(steps_per_epoch):
            index = order[:, step * schedule.batch_size : (step + 1) * schedule.batch_size]
            done = (epoch * steps_per_epoch + step + 1) / (schedule.warmup_epochs * steps_per_epoch) if schedule.warmup_epochs else 1.0
            flat.step(batches.serve(index, bits), schedule.final_beta * min(1.0, done), noise)

        elbo = flat.elbo(valid, noise).tolist()
        weighted = schedule.selection == "weighted_loss"
        beta = schedule.final_beta * min(1.0, (epoch + 1) / schedule.warmup_epochs) if schedule.warmup_epochs else schedule.final_beta
        monitored = flat.elbo(valid, noise, beta=beta).tolist() if weighted else elbo
        still_active, rows = [], None
        for position, r in enumerate(active):
            state["history"][r].append(elbo[position])
            state["epochs"][r] = epoch + 1
            if epoch < schedule.warmup_epochs and not weighted:
                still_active.append(position)
                continue
            if monitored[position] > state["best_elbo"][r] + schedule.min_improvement:
                state["best_elbo"][r], state["best_epoch"][r], state["stale"][r] = monitored[position], epoch, 0
                rows = flat.rows() if rows is None else rows
                state["best_rows"][r] = rows[position]
            else:
                state["stale"][r] += 1
            if state["stale"][r] < schedule.patience:
                still_active.append(position)
        state["epoch"] = epoch + 1
        if len(still_active) < len(active):
            state["active"] = [active[p] for p in still_active]
            if state["active"]:
                flat.select(still_active)
        finite = [e for e in elbo if math.isfinite(e)]
        progress.set_postfix(valid_elbo=f"{sum(finite) / max(1, len(finite)):.2f}", active=len(state["active"]))
        last = not state["active"] or epoch + 1 == schedule.max_epochs
        if checkpoint is not None and not last and (epoch + 1) % checkpoint_every == 0:
            _save_atomic({
                "state": state, "flat": flat.state_dict(), "generators": [g.get_state() for g in generators],
                "streams": {name: [g.get_state() for g in values] for name, values in own.items()},
                "trained_s": earlier_s + time.perf_counter() - start,
            }, checkpoint)
        if not state["active"]:
            break

    never = [r for r in range(runs) if state["best_epoch"][r] < 0]
    if never:
        raise FloatingPointError(
            f"runs {never} (seeds {[seeds[r] for r in never]}) never had a finite validation ELBO after "
            f"the warm-up of {schedule.warmup_epochs} epochs; their last values: {[state['history'][r][-1:] for r in never]}"
        )
    flat.write_into(model, state["best_rows"])
    return TrainingOutcome(
        best_epoch=state["best_epoch"],
        best_valid_elbo=[state["history"][r][state["best_epoch"][r]] for r in range(runs)],
        epochs=state["epochs"],
        history=state["history"],
        earlier_s=earlier_s,
    )


class _Batches:
    """Serves run r's batch ``index[r]`` of the training set, binarised with run r's generator.

    Dynamic binarisation compares 16 uniform random bits per pixel with a threshold made once
    per image, t = round(65536 p) (at most 65535): P(x = 1) = t / 65536 = p to within 1.6e-5
    for every intensity p, at a quarter of the random draws of one float per pixel.
    """

    def __init__(self, train_x: torch.Tensor, binarize: bool, dtype: torch.dtype):
        self.binarize, self.dtype = binarize, dtype
        if binarize:
            if train_x.min() < 0 or train_x.max() > 1:
                raise ValueError("dynamic binarisation needs intensities in [0, 1]")
            self.images = ((train_x.double() * 65536).round().clamp(max=65535) - 32768).to(torch.int16)
        else:
            self.images = train_x

    def serve(self, index: torch.Tensor, noise: RunNoise) -> torch.Tensor:
        x = self.images[index]
        if not self.binarize:
            return x
        runs, size, x_dim = x.shape
        if (size * x_dim) % 4:
            raise ValueError("binarisation draws 64 bits for 4 pixels: batch size x data dimension must be a multiple of 4")
        bits = torch.empty(runs, size * x_dim // 4, dtype=torch.int64, device=x.device)
        for row, generator in zip(bits, noise.generators):
            row.random_(-(2**63), None, generator=generator)
        return (bits.view(torch.int16).view(runs, size, x_dim) < x).to(self.dtype)


def _fixed_binarization(x: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return torch.bernoulli(x, generator=generator)


def _save_atomic(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
