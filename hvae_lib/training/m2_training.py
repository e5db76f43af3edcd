r"""Training Kingma et al.'s (2014) M2 on the codes of a frozen M1, ``runs`` models at once.

Each epoch has ``batches`` minibatches per run, and every minibatch holds a share of the run's
labelled points and a share of its unlabelled points, both permuted afresh each epoch: every
labelled point is seen exactly once per epoch, and so is every unlabelled one (the labelled set
is cycled, never exhausted before the unlabelled one as a ``zip`` of two loaders would be). With
100 labels and 100 minibatches of the other 49,900 images that is Kingma's 1 + 499.

A point's z1 is drawn from the frozen M1's posterior q(z1 | x) every time it is served
(``Codes.sample``); evaluation uses the posterior mean (``Codes.mean``). The objective of a run
is Kingma's: the minibatch's negative bound (``M2.loss``, with alpha N / N_labelled per labelled
pair) times ``batches / N``, and a N(0, 1) prior on the weights, which is Adam's weight decay
1 / N; Adam with learning rate 3e-4 (torch's fused implementation). The runs share nothing but
their tensors: each has its own label draw, permutations and random numbers (one generator per
run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from hvae_lib.distributions import RunNoise, VonMisesFisher
from hvae_lib.models.m2 import M2, M2_PRECISIONS


@dataclass(frozen=True)
class M2Schedule:
    """Kingma's optimisation settings: ``epochs`` passes of ``batches`` minibatches (100 with 100
    labels, 200 otherwise), Adam at ``learning_rate``, classification weight ``alpha`` (0.1),
    evaluation every ``evaluate_every`` epochs and after the last, and the ``precision`` of
    the model's wide layers in training (``M2``'s argument of that name; evaluation reads the
    classifier, which is always float32)."""

    epochs: int = 1000
    batches: int = 100
    learning_rate: float = 3e-4
    alpha: float = 0.1
    evaluate_every: int = 10
    precision: str = "float32"

    def __post_init__(self):
        if min(self.epochs, self.batches, self.evaluate_every) < 1 or self.learning_rate <= 0 or self.alpha < 0:
            raise ValueError(f"invalid M2 schedule {self}")
        if self.precision not in M2_PRECISIONS:
            raise ValueError(f"precision must be one of {M2_PRECISIONS}, got {self.precision!r}")


@dataclass(frozen=True)
class Codes:
    """A frozen M1's posterior for every image: ``loc`` (N, z) and ``scale`` (N, z) of a normal
    M1, or the mean direction ``loc`` (N, d + 1) and concentration ``scale`` (N,) of a
    hyperspherical one."""

    latent: str
    loc: torch.Tensor
    scale: torch.Tensor

    def __post_init__(self):
        if self.latent not in ("normal", "vmf"):
            raise ValueError(f"latent must be 'normal' or 'vmf', got {self.latent!r}")
        expected = self.loc.shape if self.latent == "normal" else self.loc.shape[:1]
        if self.scale.shape != expected:
            raise ValueError(f"scale must have shape {tuple(expected)} for a {self.latent} M1, got {tuple(self.scale.shape)}")

    @property
    def dim(self) -> int:
        return self.loc.shape[-1]

    def __len__(self) -> int:
        return self.loc.shape[0]

    def mean(self, index: torch.Tensor) -> torch.Tensor:
        """The posterior means (directions) of images ``index`` (runs, n): (runs, n, dim)."""
        return self.loc[index]

    def sample(self, index: torch.Tensor, noise: RunNoise) -> torch.Tensor:
        """One z1 ~ q(z1 | x) per image of ``index`` (runs, n), run r's from its own generator."""
        loc, scale = self.loc[index], self.scale[index]
        if self.latent == "normal":
            eps = noise.randn(noise.split(loc.numel()), loc.dtype, loc.device).reshape(loc.shape)
            return loc + scale * eps
        return VonMisesFisher(loc, scale, validate_args=False).rsample(noise=noise)

    def keep(self, coordinates: torch.Tensor) -> Codes:
        """The codes restricted to the boolean mask ``coordinates`` (normal M1 only)."""
        if self.latent != "normal":
            raise ValueError("only a normal M1's coordinates can be pruned: a hyperspherical code is one direction")
        return Codes(self.latent, self.loc[:, coordinates], self.scale[:, coordinates])


def active_coordinates(codes: Codes, threshold: float = 0.1) -> torch.Tensor:
    """Kingma's pruning: the coordinates whose posterior mean varies over the images with an sd
    above ``threshold`` (a boolean mask over ``codes.dim``)."""
    return codes.loc.std(dim=0) > threshold


def epoch_batches(labelled: torch.Tensor, unlabelled: torch.Tensor, batches: int, generators: Sequence[torch.Generator]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch's minibatches: per run, a fresh permutation of its labelled positions
    (0 .. n_l - 1, into ``labelled`` (runs, n_l)) and of its unlabelled images (``unlabelled``
    (runs, n_u)), each cut into ``batches`` nearly equal parts; minibatch b is
    (labelled positions (runs, b_l), unlabelled images (runs, b_u))."""
    runs, n_labelled = labelled.shape
    if min(n_labelled, unlabelled.shape[1]) < batches:
        raise ValueError(f"{batches} minibatches need at least as many labelled ({n_labelled}) and unlabelled ({unlabelled.shape[1]}) points")
    labelled_order = torch.stack([torch.randperm(n_labelled, generator=g) for g in generators])
    unlabelled_order = torch.stack([unlabelled[r, torch.randperm(unlabelled.shape[1], generator=g)] for r, g in enumerate(generators)])
    return list(zip(torch.tensor_split(labelled_order, batches, dim=1), torch.tensor_split(unlabelled_order, batches, dim=1)))


def train_m2(
    model: M2,
    codes: Codes,
    labelled: torch.Tensor,
    labels: torch.Tensor,
    unlabelled: torch.Tensor,
    schedule: M2Schedule,
    seeds: Sequence[int],
    evaluate: Callable[[M2, int], dict] | None = None,
) -> list[dict]:
    """Train ``model`` (one run per seed) and return its evaluations.

    ``labelled`` (runs, n_l) and ``unlabelled`` (runs, n_u) index the training images of
    ``codes``; ``labels`` (runs, n_l) are the labels of the labelled images, the only labels
    training sees. ``evaluate(model, epoch)`` (in eval mode, without gradients) returns a dict,
    e.g. every run's test accuracy, recorded with its epoch; it runs every
    ``schedule.evaluate_every`` epochs and after the last.
    """
    runs = model.runs
    if not (labelled.shape[0] == labels.shape[0] == unlabelled.shape[0] == len(seeds) == runs):
        raise ValueError(f"labelled, labels, unlabelled and seeds need one row per run ({runs})")
    if labelled.shape != labels.shape:
        raise ValueError(f"labels {tuple(labels.shape)} must match labelled {tuple(labelled.shape)}")
    if model.precision != schedule.precision:
        raise ValueError(f"the model computes in {model.precision}, the schedule asks for {schedule.precision}")
    n_total = labelled.shape[1] + unlabelled.shape[1]
    alpha = schedule.alpha * n_total / labelled.shape[1]
    optimiser = torch.optim.Adam(model.parameters(), lr=schedule.learning_rate, weight_decay=1 / n_total, fused=True)
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    noise = RunNoise(generators)
    history = []
    for epoch in range(schedule.epochs):
        model.train()
        for positions, images in epoch_batches(labelled, unlabelled, schedule.batches, generators):
            batch_images = labelled.gather(1, positions)
            loss = model.loss(codes.sample(batch_images, noise), labels.gather(1, positions), codes.sample(images, noise), alpha, noise)
            optimiser.zero_grad(set_to_none=True)
            (loss.sum() * schedule.batches / n_total).backward()
            optimiser.step()
        if evaluate is not None and ((epoch + 1) % schedule.evaluate_every == 0 or epoch + 1 == schedule.epochs):
            model.eval()
            with torch.no_grad():
                history.append({"epoch": epoch + 1, **evaluate(model, epoch + 1)})
    return history
