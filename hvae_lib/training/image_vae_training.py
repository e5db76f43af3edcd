r"""Training the follow-up paper's VAEs as its authors' code does (``training_func_v1.py``).

Per batch x (runs, B, C*H*W), with EDT = sum over pixels of (x_hat - x)^2, averaged over the batch:

1. encoder step (the decoder's parameters are not updated, gradients flow through it):
   z = reparameterize(mu, logvar); loss = s (EDT + beta_eff A(epoch) KL), where KL is
   ``standard_kld`` (standard beta-VAE) or ``CompressionLoss.terms(...)["total"]``;
2. decoder step, on the same z detached: loss = s EDT.

s = ``loss_scale`` (1e-3). Encoder and decoder have their own Adam (lr 2e-4) and MultiStepLR.
beta_eff starts at 1 and is set once, after epoch 0, to
beta_target * mean_epoch(EDT) / (mean_epoch(KL) + 1e-3): ``beta_target`` is the ratio of the
weighted regulariser to the reconstruction term at epoch-0 magnitudes, the "beta" of the paper's
Figure 2 as far as known. A(epoch) anneals the compressed model only: sqrt(100 e / E_a) + 1 up to
epoch E_a (= 100 in the code, where it is sqrt(e) + 1), then 1 ("code"), or held at its last
value ("hold", the paper's "constant afterwards"), or 1 throughout ("none").

Every run of an MLP ensemble has its own generator (batch order, posterior noise) and its own
beta_eff, so a run gives the same numbers alone or beside others.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from hvae_lib.distributions import RunNoise
from hvae_lib.models.compression_loss import CompressionLoss, standard_kld
from hvae_lib.models.image_vae import ImageVAE

ANNEALINGS = ("code", "hold", "none")


@dataclass(frozen=True)
class ImageVAESchedule:
    """The authors' optimisation settings (code, not paper): 300 epochs, batch 200, Adam 2e-4 for
    encoder and decoder, MultiStepLR at (280, 450) with gamma 0.5 (unknown; 0.5 in their later
    code), loss scale 1e-3, annealing over the first 100 epochs."""

    epochs: int
    beta_target: float
    batch_size: int = 200
    learning_rate: float = 2e-4
    milestones: tuple[int, ...] = (280, 450)
    gamma: float = 0.5
    annealing: str = "code"
    anneal_epochs: int = 100
    loss_scale: float = 1e-3

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"epochs must be >= 1 and batch_size >= 2 (batch statistics), got {self.epochs}, {self.batch_size}")
        if self.annealing not in ANNEALINGS:
            raise ValueError(f"annealing must be one of {ANNEALINGS}, got {self.annealing!r}")
        if self.beta_target <= 0 or self.anneal_epochs < 1:
            raise ValueError("beta_target and anneal_epochs must be positive")

    def annealing_factor(self, epoch: int) -> float:
        """A(epoch), epoch counted from 0."""
        if self.annealing == "none":
            return 1.0
        if epoch <= self.anneal_epochs:
            return math.sqrt(100 * epoch / self.anneal_epochs) + 1
        return 1.0 if self.annealing == "code" else 11.0


@dataclass
class ImageVAEHistory:
    """Per epoch and run: mean EDT (per-image squared error), mean regulariser, beta_eff, mean
    |sigma|, and the epoch's wall time (shared by the runs)."""

    edt: list[list[float]] = field(default_factory=list)
    regulariser: list[list[float]] = field(default_factory=list)
    beta_eff: list[list[float]] = field(default_factory=list)
    sigma_norm: list[list[float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def regulariser(model: ImageVAE, mu: torch.Tensor, logvar: torch.Tensor, loss: CompressionLoss | None) -> torch.Tensor:
    """The KL term of each run: ``standard_kld`` without a compression loss, else KLD_HSph."""
    return standard_kld(mu, logvar) if loss is None else loss.terms(mu, logvar)["total"]


def reconstruction_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """EDT: sum over pixels of the squared error, mean over the batch; shape (runs,)."""
    return (x_hat - x).square().sum(-1).mean(-1)


def train_image_vae(
    model: ImageVAE,
    train_x: torch.Tensor,
    schedule: ImageVAESchedule,
    loss: CompressionLoss | None,
    seeds: list[int],
) -> ImageVAEHistory:
    """Train every run of ``model`` on ``train_x`` (N, C*H*W) in [0, 1]; returns the history.

    ``loss`` None trains the standard beta-VAE, a ``CompressionLoss`` the compressed VAE (which
    should have ``normalize_z``); the annealing applies to the compressed model only.
    """
    if len(seeds) != model.runs:
        raise ValueError(f"one seed per run: {model.runs} runs, {len(seeds)} seeds")
    if train_x.min() < 0 or train_x.max() > 1:
        raise ValueError("images must be in [0, 1]")
    runs, n_train = model.runs, train_x.shape[0]
    generators = [torch.Generator(device=train_x.device).manual_seed(int(s)) for s in seeds]
    noise = RunNoise(generators)
    optimizers = [torch.optim.Adam(params, lr=schedule.learning_rate)
                  for params in (model.encoder_parameters(), model.decoder_parameters())]
    schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, list(schedule.milestones), schedule.gamma) for o in optimizers]
    beta_eff = torch.ones(runs, dtype=train_x.dtype, device=train_x.device)
    steps = n_train // schedule.batch_size
    history = ImageVAEHistory()
    model.train()
    for epoch in range(schedule.epochs):
        start = time.perf_counter()
        anneal = schedule.annealing_factor(epoch) if loss is not None else 1.0
        order = torch.stack([torch.randperm(n_train, generator=g, device=train_x.device) for g in generators])
        sums = torch.zeros(3, runs, dtype=torch.float64)
        for step in range(steps):
            x = train_x[order[:, step * schedule.batch_size : (step + 1) * schedule.batch_size]]
            edt, kl, sigma_norm = _step(model, x, beta_eff * anneal, loss, noise, optimizers, schedule.loss_scale)
            sums += torch.stack([edt, kl, sigma_norm]).double()
        for scheduler in schedulers:
            scheduler.step()
        means = sums / steps
        if epoch == 0:
            beta_eff = (schedule.beta_target * means[0] / (means[1] + 1e-3)).to(beta_eff)
        history.edt.append(means[0].tolist())
        history.regulariser.append(means[1].tolist())
        history.beta_eff.append(beta_eff.tolist())
        history.sigma_norm.append(means[2].tolist())
        history.seconds.append(time.perf_counter() - start)
        if not all(math.isfinite(v) for v in means.flatten().tolist()):
            raise FloatingPointError(f"non-finite loss at epoch {epoch}: EDT {means[0].tolist()}, KL {means[1].tolist()}")
    model.eval()
    return history


def _step(model, x, beta, loss, noise, optimizers, scale):
    """The authors' two updates on one batch; returns the encoder step's EDT, KL and mean |sigma|."""
    encoder_optimizer, decoder_optimizer = optimizers
    encoder = model.encoder_parameters()
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, noise)
    edt = reconstruction_error(model.decode(z), x)
    kl = regulariser(model, mu, logvar, loss)
    for p, g in zip(encoder, torch.autograd.grad(scale * (edt + beta * kl).sum(), encoder)):
        p.grad = g
    encoder_optimizer.step()

    decoder = model.decoder_parameters()
    decoded = reconstruction_error(model.decode(z.detach()), x)
    for p, g in zip(decoder, torch.autograd.grad(scale * decoded.sum(), decoder)):
        p.grad = g
    decoder_optimizer.step()
    return edt.detach(), kl.detach(), (0.5 * logvar.detach()).exp().norm(dim=-1).mean(-1)
