r"""M1 and M2 trained together from scratch: the earlier reproduction's design, kept to measure it.

Kingma et al. (2014) train M1 first, freeze it, and train M2 on its codes
(``hvae_lib.training.m2_training``). The earlier reproduction trained both at once, its loss
per step the sum of M1's negative ELBO and M2's negative bound, with z1 the M1 posterior sample
and M2's gradient flowing into M1's encoder. This trainer does that and changes nothing else:
the same minibatches (every labelled image once per epoch, ``epoch_batches``), the same M2
objective (``M2.loss``, scaled by ``batches / N``) and Adam with M2's learning rate. Per run
and minibatch of labelled images x_l and unlabelled images x_u, the loss is

    -(sum_{x in x_l, x_u} [log p(x | z1) - KL(q(z1 | x) || p(z1))])
      - (sum_l [L(z1, y) + alpha log q(y | z1)] + sum_u U(z1)),      z1 ~ q(z1 | x),

the same z1 draw serving M1's reconstruction and M2's input. Images are binarised afresh every
time they are served (dynamic binarisation, as in Table 1). M2's parameters carry Kingma's weight
prior (Adam's weight decay 1 / N); M1's carry none, as in Table 1. One generator per run draws
its permutations, binarisations and posterior samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from hvae_lib.distributions import RunNoise
from hvae_lib.models.m2 import M2
from hvae_lib.models.vae import VAE
from hvae_lib.training.m2_training import M2Schedule, epoch_batches


def _binarized(images: torch.Tensor, index: torch.Tensor, noise: RunNoise) -> torch.Tensor:
    """x ~ Bernoulli(images[index]) for ``index`` (runs, n), run r's draws from its generator."""
    x = images[index]
    uniform = noise.rand(noise.split(x.numel()), x.dtype, x.device).reshape(x.shape)
    return (uniform < x).to(x.dtype)


def joint_loss(m1: VAE, m2: M2, x_labelled: torch.Tensor, labels: torch.Tensor, x_unlabelled: torch.Tensor, alpha: float, noise: RunNoise) -> torch.Tensor:
    """The negative joint objective of one minibatch per run, shape (runs,) (module docstring):
    M1's negative ELBO on every image plus ``M2.loss`` on the same z1 draws, which keep their
    gradient into M1."""
    x = torch.cat([x_labelled, x_unlabelled], dim=1)
    q = m1.posterior(x)
    z1 = m1.rsample(q, noise)
    elbo = m1.log_likelihood(x, z1) - torch.distributions.kl_divergence(q, m1.prior())
    n_l = x_labelled.shape[1]
    return -elbo.sum(-1) + m2.loss(z1[:, :n_l], labels, z1[:, n_l:], alpha, noise)


def train_joint_m1m2(
    m1: VAE,
    m2: M2,
    images: torch.Tensor,
    labelled: torch.Tensor,
    labels: torch.Tensor,
    unlabelled: torch.Tensor,
    schedule: M2Schedule,
    seeds: Sequence[int],
    evaluate: Callable[[VAE, M2, int], dict] | None = None,
) -> list[dict]:
    """Train ``m1`` and ``m2`` together (one run per seed) and return the evaluations.

    ``images`` (N, x_dim) are the training intensities in [0, 1]; ``labelled`` (runs, n_l) and
    ``unlabelled`` (runs, n_u) index them, and ``labels`` (runs, n_l), the labels of the
    labelled images, are the only labels training sees. ``evaluate(m1, m2, epoch)`` (eval mode,
    no gradients) returns a dict recorded with its epoch, every ``schedule.evaluate_every``
    epochs and after the last.
    """
    runs = m2.runs
    if m1.runs != runs:
        raise ValueError(f"M1 holds {m1.runs} runs and M2 {runs}: they are trained in pairs")
    if m1.z_dim != m2.x_dim:
        raise ValueError(f"M2 reads codes of dimension {m2.x_dim}, M1's are {m1.z_dim}")
    if not (labelled.shape[0] == labels.shape[0] == unlabelled.shape[0] == len(seeds) == runs):
        raise ValueError(f"labelled, labels, unlabelled and seeds need one row per run ({runs})")
    if labelled.shape != labels.shape:
        raise ValueError(f"labels {tuple(labels.shape)} must match labelled {tuple(labelled.shape)}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError("dynamic binarisation needs intensities in [0, 1]")
    if m2.precision != schedule.precision:
        raise ValueError(f"M2 computes in {m2.precision}, the schedule asks for {schedule.precision}")
    n_total = labelled.shape[1] + unlabelled.shape[1]
    alpha = schedule.alpha * n_total / labelled.shape[1]
    optimiser = torch.optim.Adam(
        [{"params": m1.parameters(), "weight_decay": 0.0}, {"params": m2.parameters(), "weight_decay": 1 / n_total}],
        lr=schedule.learning_rate, fused=True,
    )
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    noise = RunNoise(generators)
    history = []
    for epoch in range(schedule.epochs):
        m1.train(), m2.train()
        for positions, unlabelled_images in epoch_batches(labelled, unlabelled, schedule.batches, generators):
            x_labelled = _binarized(images, labelled.gather(1, positions), noise)
            x_unlabelled = _binarized(images, unlabelled_images, noise)
            loss = joint_loss(m1, m2, x_labelled, labels.gather(1, positions), x_unlabelled, alpha, noise)
            optimiser.zero_grad(set_to_none=True)
            (loss.sum() * schedule.batches / n_total).backward()
            optimiser.step()
        if evaluate is not None and ((epoch + 1) % schedule.evaluate_every == 0 or epoch + 1 == schedule.epochs):
            m1.eval(), m2.eval()
            with torch.no_grad():
                history.append({"epoch": epoch + 1, **evaluate(m1, m2, epoch + 1)})
    return history
