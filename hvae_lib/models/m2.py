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
The encoder and decoder read [u, onehot(y)]; their first layer is split as u W_u + W_y[y], so
the K pairs of an unlabelled z1 share its u W_u and the enumeration costs one hidden layer per
pair, not a matmul per pair (``hvae_lib.models.pairwise_mlp``, which also writes their backward).
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
from hvae_lib.models.pairwise_mlp import pairwise_softplus_mlp

M2_LATENTS = ("normal", "vmf")
M2_PRECISIONS = ("float32", "bfloat16")


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
        precision: the dtype of the encoder's and decoder's hidden activations and matmuls in
            the bounds ("float32": the parameters' own dtype; "bfloat16": see
            ``hvae_lib.models.pairwise_mlp``). The classifier q(y | z1), which alone decides
            the predictions, always runs in the parameters' dtype.
    """

    def __init__(
        self, x_dim: int, latent: str, d: int, classes: int = 10, hidden: int = 500, runs: int = 1, generator: torch.Generator | None = None,
        precision: str = "float32",
    ):
        super().__init__()
        if latent not in M2_LATENTS:
            raise ValueError(f"latent must be one of {M2_LATENTS}, got {latent!r}")
        if precision not in M2_PRECISIONS:
            raise ValueError(f"precision must be one of {M2_PRECISIONS}, got {precision!r}")
        self.precision = precision
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

    def posterior(self, z1: torch.Tensor, y: torch.Tensor | None = None) -> Distribution:
        """q(z2 | z1, y) for z1 (runs, n, x_dim) and integer labels y (runs, n): batch shape
        (runs, n); with y None, for every class: batch shape (runs, n, K)."""
        first = self.encoder[0]
        per_example = torch.baddbmm(first.bias, z1, first.weight[:, : self.x_dim]).unsqueeze(2)
        heads = (self.loc_head, self.scale_head)
        out = pairwise_softplus_mlp(
            (per_example, self._class_rows(first.weight[:, self.x_dim :], y)), None, None,
            torch.cat([head.weight for head in heads], dim=-1), torch.cat([head.bias for head in heads], dim=-1), self._wide_dtype,
        )
        if y is not None:
            out = out.squeeze(2)
        loc, raw_scale = out.split([self.z_dim, out.shape[-1] - self.z_dim], dim=-1)
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

    def likelihood(self, y: torch.Tensor | None, z2: torch.Tensor) -> Distribution:
        """p(z1 | y, z2): a diagonal Gaussian, batch shape (runs, n) for labels y (runs, n) and
        z2 (runs, n, z_dim); with y None, z2 (runs, n, K, z_dim) holds a draw for every class
        and the batch shape is (runs, n, K)."""
        first = self.decoder[0]
        per_class = self._class_rows(first.weight[:, self.z_dim :], y) + first.bias.unsqueeze(1)
        grid_z2 = z2 if y is None else z2.unsqueeze(2)
        heads = (self.mean_head, self.log_var_head)
        out = pairwise_softplus_mlp(
            (per_class,), grid_z2, first.weight[:, : self.z_dim],
            torch.cat([head.weight for head in heads], dim=-1), torch.cat([head.bias for head in heads], dim=-1), self._wide_dtype,
        )
        if y is not None:
            out = out.squeeze(2)
        mean, log_var = out.split(self.x_dim, dim=-1)
        return Independent(Normal(mean, torch.exp(0.5 * log_var), validate_args=False), 1, validate_args=False)

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
        return self._bound(z1, y, z2, noise)

    def unlabelled_bound(self, z1: torch.Tensor, z2: torch.Tensor | None = None, noise: Noise | None = None) -> torch.Tensor:
        """U(z1) of the module docstring, shape (runs, n): L(z1, y) for every class at once (the
        n x K pairs as one (runs, n, K) grid, one z2 draw each, in example-major order), weighted
        by q(y | z1), plus its entropy. ``z2`` (runs, n, K, z_dim), if given, is the draw for
        each pair."""
        bound = self._bound(z1, None, z2, noise)
        log_q = F.log_softmax(self.class_logits(z1), dim=-1)
        q = log_q.exp()
        return (q * bound).sum(-1) - (q * log_q).sum(-1)

    def _bound(self, z1, y, z2, noise):
        """L(z1, y) for labels y (runs, n), or for every class (y None): shape (runs, n, K)."""
        q = self.posterior(z1, y)
        if z2 is None:
            z2 = self.sample_posterior(q, noise)
        kl = torch.distributions.kl_divergence(q, self.prior())
        target = z1 if y is not None else z1.unsqueeze(2)
        return self.likelihood(y, z2).log_prob(target) - math.log(self.classes) - kl

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

    @property
    def _wide_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.precision == "bfloat16" else None

    def _class_rows(self, weight: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The one-hot block of a first layer, onehot(y) W_y = W_y[y]: (runs, n, 1, H) for labels
        y (runs, n), or every class's row, (runs, 1, K, H), for y None."""
        if y is None:
            return weight.unsqueeze(1)
        return weight.gather(1, y.long().unsqueeze(-1).expand(-1, -1, weight.shape[-1])).unsqueeze(2)
