r"""The paper's variational auto-encoder, with the posterior family as a parameter.

Encoder x -> h (MLP with ReLU, or softplus as in Kingma et al.'s M1), then two heads:

- ``normal`` (N-VAE): z in R^d, q(z|x) = N(mu, diag sigma^2), mu = Linear(h),
  sigma = softplus(Linear(h)); prior N(0, I).
- ``vmf`` (S-VAE): z on S^d in R^(d+1), q(z|x) = vMF(mu, kappa), mu = Linear(h) / ||Linear(h)||,
  kappa = softplus(Linear(h)) + 1; prior uniform on S^d.
- ``power_spherical``: as ``vmf`` with the Power Spherical posterior (De Cao & Aziz 2020).

Decoder z -> logits (Bernoulli likelihood, for binary images) or means (Gaussian likelihood with a
fixed standard deviation). d is the manifold dimension, as in the paper's Table 1: the N-VAE latent
is R^d, the S-VAE latent S^d lives in R^(d+1).

Every layer is an ensemble layer (``hvae_lib.models.ensemble``): one ``VAE`` holds ``runs``
independent models, inputs and outputs carry a leading run dimension.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from hvae_lib.distributions import HypersphericalUniform, Noise, PowerSpherical, VonMisesFisher
from hvae_lib.models.ensemble import EnsembleLinear, EnsembleMLP, stack_seeded_runs

LATENTS = ("normal", "vmf", "power_spherical")
LIKELIHOODS = ("bernoulli", "gaussian")
ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus}
# "wrapped_normal": on the circle (vmf, d = 1), training draws z = (cos t, sin t) with
# t = angle(mu) + eps / kappa, eps ~ N(0, 1), the earlier reproduction's stand-in for the vMF
# sampler (its KL stays the vMF's); kept to measure that defect. Evaluation always uses the vMF.
CIRCLE_SAMPLERS = ("vmf", "wrapped_normal")


class VAE(nn.Module):
    """``runs`` independent VAEs with ``latent`` posteriors of manifold dimension ``d``.

    Args:
        x_dim: data dimension (784 for MNIST).
        latent: "normal", "vmf" or "power_spherical".
        d: manifold dimension of the latent space (R^d, or S^d in R^(d+1)).
        hidden: encoder widths; the decoder mirrors them (784-256-128 / 128-256-784 in the paper).
        runs: number of independent models held together.
        likelihood: "bernoulli" (logits) or "gaussian" (means, standard deviation ``noise_scale``).
        generator: seeds the initial parameters.
        circle_sampler: "vmf", or "wrapped_normal" for ``rsample`` on the circle (see
            ``CIRCLE_SAMPLERS``).
        activation: "relu" (the paper's) or "softplus" (Kingma et al.'s M1) between layers.
    """

    def __init__(
        self,
        x_dim: int,
        latent: str,
        d: int,
        hidden: Sequence[int] = (256, 128),
        runs: int = 1,
        likelihood: str = "bernoulli",
        noise_scale: float = 1.0,
        generator: torch.Generator | None = None,
        circle_sampler: str = "vmf",
        activation: str = "relu",
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        if circle_sampler not in CIRCLE_SAMPLERS:
            raise ValueError(f"circle_sampler must be one of {CIRCLE_SAMPLERS}, got {circle_sampler!r}")
        if circle_sampler != "vmf" and (latent != "vmf" or d != 1):
            raise ValueError(f"the {circle_sampler!r} sampler is defined for a vmf latent on the circle (d = 1), got {latent!r}, d = {d}")
        self.circle_sampler = circle_sampler
        if latent not in LATENTS:
            raise ValueError(f"latent must be one of {LATENTS}, got {latent!r}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if d < 1:
            raise ValueError(f"d (the latent manifold dimension) must be >= 1, got {d}")
        self.latent, self.d, self.runs = latent, d, runs
        self.likelihood, self.noise_scale = likelihood, noise_scale
        self.z_dim = d if latent == "normal" else d + 1
        widths = [x_dim, *hidden]
        self.encoder = EnsembleMLP(runs, widths, final_activation=True, generator=generator, activation=ACTIVATIONS[activation])
        self.loc_head = EnsembleLinear(runs, widths[-1], self.z_dim, generator)
        self.scale_head = EnsembleLinear(runs, widths[-1], d if latent == "normal" else 1, generator)
        self.decoder = EnsembleMLP(runs, [self.z_dim, *reversed(widths)], generator=generator, activation=ACTIVATIONS[activation])

    @classmethod
    def from_seeds(cls, x_dim: int, latent: str, d: int, seeds: Sequence[int], **kwargs) -> VAE:
        """An ensemble whose run r is initialised from ``torch.Generator().manual_seed(seeds[r])``
        alone: a run's initial parameters depend on its seed only, never on the other runs."""
        return stack_seeded_runs(lambda runs, generator: cls(x_dim, latent, d, runs=runs, generator=generator, **kwargs), seeds)

    def posterior(self, x: torch.Tensor) -> Distribution:
        """q(z | x) for x of shape (runs, n, x_dim); batch shape (runs, n)."""
        h = self.encoder(x)
        return self.posterior_from_heads(self.loc_head(h), self.scale_head(h))

    def posterior_from_heads(self, loc: torch.Tensor, raw_scale: torch.Tensor) -> Distribution:
        """q(z | x) from the two heads' outputs (see the module docstring). Arguments are not
        validated: runs are independent, and a run whose parameters have become NaN must not stop
        the others (training tells it by its non-finite validation ELBO)."""
        if self.latent == "normal":
            return Independent(Normal(loc, F.softplus(raw_scale) + 1e-6, validate_args=False), 1, validate_args=False)
        direction = F.normalize(loc, dim=-1)
        kappa = F.softplus(raw_scale.squeeze(-1)) + 1
        family = VonMisesFisher if self.latent == "vmf" else PowerSpherical
        return family(direction, kappa, validate_args=False)

    def prior(self) -> Distribution:
        """p(z): N(0, I) on R^d or the uniform on S^d."""
        device = self.loc_head.weight.device
        dtype = self.loc_head.weight.dtype
        if self.latent == "normal":
            zeros = torch.zeros(self.z_dim, device=device, dtype=dtype)
            return Independent(Normal(zeros, torch.ones_like(zeros)), 1)
        return HypersphericalUniform(self.z_dim, device=device, dtype=dtype)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits or Gaussian means for z of shape (runs, n, z_dim)."""
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z), summed over the data dimensions; x (runs, n, x_dim), z (..., runs, n, z_dim).

        Leading sample dimensions of z are folded into n for decoding and restored after.
        """
        sample_shape = z.shape[:-3]
        runs, n, z_dim = z.shape[-3:]
        flat = z.reshape(-1, runs, n, z_dim).permute(1, 0, 2, 3).reshape(runs, -1, z_dim)
        out = self.decode(flat).reshape(runs, -1, n, x.shape[-1]).permute(1, 0, 2, 3)
        return self.log_likelihood_from_outputs(x, out.reshape(*sample_shape, runs, n, x.shape[-1]))

    def log_likelihood_from_outputs(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """log p(x | z) from the decoder's outputs ``out`` (logits or means, (..., runs, n, x_dim))."""
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
        return Normal(out, self.noise_scale).log_prob(x.expand_as(out)).sum(-1)

    def rsample(self, q: Distribution, noise: Noise | None = None) -> torch.Tensor:
        """One reparameterised z ~ q per example; ``noise`` (e.g. one generator per run) says
        where its random numbers come from, torch's global generator by default."""
        if self.circle_sampler == "wrapped_normal":
            return self._wrapped_normal(q, noise)
        if noise is None:
            return q.rsample()
        if self.latent == "normal":
            normal = q.base_dist
            eps = noise.randn(noise.split(normal.loc.numel()), normal.loc.dtype, normal.loc.device)
            return normal.loc + normal.scale * eps.reshape(normal.loc.shape)
        if self.latent == "vmf":
            return q.rsample(noise=noise)
        raise NotImplementedError(f"per-run noise is not implemented for the {self.latent!r} posterior")

    @staticmethod
    def _wrapped_normal(q: Distribution, noise: Noise | None) -> torch.Tensor:
        """z = (cos t, sin t), t = angle(mu) + eps / kappa, eps ~ N(0, 1) (see ``CIRCLE_SAMPLERS``)."""
        shape = q.concentration.shape
        if noise is None:
            eps = torch.randn(shape, dtype=q.loc.dtype, device=q.loc.device)
        else:
            eps = noise.randn(noise.split(q.concentration.numel()), q.loc.dtype, q.loc.device).reshape(shape)
        angle = torch.atan2(q.loc[..., 1], q.loc[..., 0]) + eps / q.concentration
        return torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)

    def elbo_terms(self, x: torch.Tensor, noise: Noise | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample reconstruction term log p(x|z), z ~ q(z|x), and the analytic KL(q || p).

        Both of shape (runs, n); the ELBO is their difference.
        """
        q = self.posterior(x)
        z = self.rsample(q, noise)
        return self.log_likelihood(x, z), torch.distributions.kl_divergence(q, self.prior())
