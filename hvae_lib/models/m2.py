r"""Kingma et al.'s (2014) M2 on the codes of a frozen M1, with a normal or hyperspherical z2.

The M1+M2 model stacks M2 on the latent codes z1 of an unsupervised VAE (M1). M2 is a
generative model of z1 with a class label y and a second latent z2:

    p(y) = 1/K,   p(z2) = N(0, I) on R^(d2)  or  uniform on S^(d2) in R^(d2 + 1),
    p(z1 | y, z2) = N(mu(y, z2), diag sigma^2(y, z2))            (one hidden layer, softplus),

with the inference networks

    q(y | z1) = softmax(g(z1)),
    q(z2 | z1, y) = N(m, diag s^2)  or  vMF(m / ||m||, softplus(.) + 1).

For a labelled pair the bound is

    L(z1, y) = E_q(z2|z1,y)[log p(z1 | y, z2)] + log p(y) - KL(q(z2 | z1, y) || p(z2)),

one reparameterised z2 per pair and the KL in closed form; for an unlabelled z1 it is summed
exactly over the K classes,

    U(z1) = sum_y q(y | z1) L(z1, y) + H(q(y | z1)).

Kingma's objective per data set adds alpha log q(y | z1) for each labelled pair (``M2.loss``).
Every layer is an ensemble layer: one ``M2`` holds ``runs`` independent models and every input
carries a leading run dimension.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from hvae_lib.distributions import HypersphericalUniform, Noise, VonMisesFisher
from hvae_lib.models.ensemble import EnsembleLinear, EnsembleMLP, stack_seeded_runs

M2_LATENTS = ("normal", "vmf")


class M2(nn.Module):
    """``runs`` independent M2 models of features of dimension ``x_dim`` (the codes z1), with
    ``classes`` labels and a ``latent`` z2 of manifold dimension ``d`` (R^d or S^d in R^(d+1)).

    Args:
        x_dim: the dimension of z1 (M1's code; d1 + 1 for a hyperspherical M1).
        latent: "normal" or "vmf" (z2's family).
        d: z2's manifold dimension.
        classes: the number of labels K.
        hidden: the width of every network's single hidden layer (Kingma: 500, or 300 with 100
            labels).
        runs: independent models held together.
        generator: seeds the initial parameters.
    """

    def __init__(self, x_dim: int, latent: str, d: int, classes: int = 10, hidden: int = 500, runs: int = 1, generator: torch.Generator | None = None):
        super().__init__()
        if latent not in M2_LATENTS:
            raise ValueError(f"latent must be one of {M2_LATENTS}, got {latent!r}")
        if min(x_dim, d, hidden, runs) < 1 or classes < 2:
            raise ValueError(f"need x_dim, d, hidden, runs >= 1 and classes >= 2, got {x_dim}, {d}, {hidden}, {runs}, {classes}")
        self.latent, self.d, self.classes, self.runs, self.x_dim = latent, d, classes, runs, x_dim
        self.z_dim = d if latent == "normal" else d + 1
        mlp = lambda widths: EnsembleMLP(runs, widths, final_activation=True, generator=generator, activation=nn.Softplus)
        self.classifier = nn.Sequential(mlp([x_dim, hidden]), EnsembleLinear(runs, hidden, classes, generator))
        self.encoder = mlp([x_dim + classes, hidden])
        self.loc_head = EnsembleLinear(runs, hidden, self.z_dim, generator)
        self.scale_head = EnsembleLinear(runs, hidden, d if latent == "normal" else 1, generator)
        self.decoder = mlp([self.z_dim + classes, hidden])
        self.mean_head = EnsembleLinear(runs, hidden, x_dim, generator)
        self.log_var_head = EnsembleLinear(runs, hidden, x_dim, generator)

    @classmethod
    def from_seeds(cls, x_dim: int, latent: str, d: int, seeds: Sequence[int], **kwargs) -> M2:
        """An ensemble whose run r is initialised from ``torch.Generator().manual_seed(seeds[r])``
        alone, whatever the other runs."""
        return stack_seeded_runs(lambda runs, generator: cls(x_dim, latent, d, runs=runs, generator=generator, **kwargs), seeds)

    def class_logits(self, z1: torch.Tensor) -> torch.Tensor:
        """Logits of q(y | z1), shape (runs, n, K), for z1 of shape (runs, n, x_dim)."""
        return self.classifier(z1)

    def posterior(self, z1: torch.Tensor, y: torch.Tensor) -> Distribution:
        """q(z2 | z1, y) for z1 (runs, n, x_dim) and integer labels y (runs, n)."""
        h = self.encoder(torch.cat([z1, self._one_hot(y, z1.dtype)], dim=-1))
        loc, raw_scale = self.loc_head(h), self.scale_head(h)
        if self.latent == "normal":
            return Independent(Normal(loc, F.softplus(raw_scale) + 1e-6, validate_args=False), 1, validate_args=False)
        return VonMisesFisher(F.normalize(loc, dim=-1), F.softplus(raw_scale.squeeze(-1)) + 1, validate_args=False)

    def prior(self) -> Distribution:
        """p(z2): N(0, I) on R^d or the uniform distribution on S^d."""
        weight = self.loc_head.weight
        if self.latent == "normal":
            zeros = torch.zeros(self.z_dim, device=weight.device, dtype=weight.dtype)
            return Independent(Normal(zeros, torch.ones_like(zeros)), 1)
        return HypersphericalUniform(self.z_dim, device=weight.device, dtype=weight.dtype)

    def likelihood(self, y: torch.Tensor, z2: torch.Tensor) -> Distribution:
        """p(z1 | y, z2): a diagonal Gaussian, batch shape (runs, n)."""
        h = self.decoder(torch.cat([z2, self._one_hot(y, z2.dtype)], dim=-1))
        return Independent(Normal(self.mean_head(h), torch.exp(0.5 * self.log_var_head(h)), validate_args=False), 1, validate_args=False)

    def sample_posterior(self, q: Distribution, noise: Noise | None = None) -> torch.Tensor:
        """One reparameterised z2 ~ q(z2 | z1, y) per pair; ``noise`` gives each run its own
        random numbers (torch's global generator by default)."""
        if noise is None:
            return q.rsample()
        if self.latent == "normal":
            normal = q.base_dist
            eps = noise.randn(noise.split(normal.loc.numel()), normal.loc.dtype, normal.loc.device)
            return normal.loc + normal.scale * eps.reshape(normal.loc.shape)
        return q.rsample(noise=noise)

    def labelled_bound(self, z1: torch.Tensor, y: torch.Tensor, z2: torch.Tensor | None = None, noise: Noise | None = None) -> torch.Tensor:
        """L(z1, y) of the module docstring, shape (runs, n): one z2 sample per pair (or the
        given ``z2``, e.g. to compare two computations on the same draw)."""
        q = self.posterior(z1, y)
        if z2 is None:
            z2 = self.sample_posterior(q, noise)
        kl = torch.distributions.kl_divergence(q, self.prior())
        return self.likelihood(y, z2).log_prob(z1) - math.log(self.classes) - kl

    def unlabelled_bound(self, z1: torch.Tensor, z2: torch.Tensor | None = None, noise: Noise | None = None) -> torch.Tensor:
        """U(z1) of the module docstring, shape (runs, n): L(z1, y) for every class at once (the
        n x K pairs in one batch, example-major), weighted by q(y | z1), plus its entropy.
        ``z2`` (runs, n, K, z_dim), if given, is the draw for each pair."""
        runs, n, _ = z1.shape
        classes = torch.arange(self.classes, device=z1.device)
        pairs_z1 = z1.repeat_interleave(self.classes, dim=1)
        pairs_y = classes.repeat(n).expand(runs, -1)
        bound = self.labelled_bound(pairs_z1, pairs_y, None if z2 is None else z2.reshape(runs, n * self.classes, -1), noise)
        log_q = F.log_softmax(self.class_logits(z1), dim=-1)
        q = log_q.exp()
        return (q * bound.reshape(runs, n, self.classes)).sum(-1) - (q * log_q).sum(-1)

    def loss(self, labelled_z1: torch.Tensor, labels: torch.Tensor, unlabelled_z1: torch.Tensor, alpha: float, noise: Noise | None = None) -> torch.Tensor:
        """The negative objective of one minibatch per run, shape (runs,):

            -(sum_labelled [L(z1, y) + alpha log q(y | z1)] + sum_unlabelled U(z1)),

        where Kingma's alpha is 0.1 N / N_labelled for N training points (``alpha`` here is the
        weight per labelled pair). Scaling to the data set (his n_minibatches / N) is the
        trainer's."""
        labelled = self.labelled_bound(labelled_z1, labels, noise=noise)
        log_q_y = F.log_softmax(self.class_logits(labelled_z1), dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        unlabelled = self.unlabelled_bound(unlabelled_z1, noise=noise)
        return -((labelled + alpha * log_q_y).sum(-1) + unlabelled.sum(-1))

    def predict(self, z1: torch.Tensor) -> torch.Tensor:
        """argmax_y q(y | z1), shape (runs, n)."""
        return self.class_logits(z1).argmax(-1)

    def _one_hot(self, y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return F.one_hot(y.long(), self.classes).to(dtype)
