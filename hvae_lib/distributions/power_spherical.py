r"""The power spherical distribution (De Cao & Aziz 2020) on S^(m-1) in R^m."""

import math

import torch
from torch.distributions.utils import lazy_property

from .directional import DirectionalDistribution
from .householder import householder_rotation
from .hyperspherical_uniform import uniform_direction

__all__ = ["PowerSpherical"]


class PowerSpherical(DirectionalDistribution):
    r"""The power spherical distribution PS(mu, kappa) on S^(m-1), m >= 2.

    Density with respect to the surface measure, with alpha = (m-1)/2 + kappa, beta = (m-1)/2:
        p(z | mu, kappa) = N(kappa)^(-1) (1 + mu.z)^kappa,
        N(kappa) = 2^(alpha + beta) pi^beta Gamma(alpha) / Gamma(alpha + beta).
    The component t = mu.z satisfies (1 + t)/2 ~ Beta(alpha, beta), so sampling needs no rejection:
        B = X / (X + Y),  X ~ Gamma(alpha), Y ~ Gamma(beta)
        t = 2B - 1        (carried as 1 - t = 2Y/(X+Y) and 1 + t = 2X/(X+Y), each exact when small)
        v ~ U(S^(m-2)),  z = H(mu) (t; sqrt((1-t)(1+t)) v)
    with the same Householder map as ``VonMisesFisher``. Gradients reach kappa through the implicit
    reparameterisation of X (``torch.distributions.Gamma.rsample``) and mu through H(mu). The scalar
    part runs in float64, the normaliser and entropy too (lgamma(alpha) - lgamma(alpha + beta)
    cancels at large kappa), and the results are cast to ``loc``'s dtype.

    Args:
        loc (Tensor): mean direction mu, unit vectors of shape ``(..., m)``.
        concentration (Tensor or float): kappa >= 0, broadcastable with ``loc.shape[:-1]``.
        validate_args (bool, optional): check ``|loc| = 1`` and ``concentration >= 0``.
    """


    @lazy_property
    def _alpha(self):
        return (self._m - 1) / 2 + self.concentration.to(torch.float64)

    @property
    def _beta(self):
        return (self._m - 1) / 2

    @lazy_property
    def _log_normalizer_plus_kappa_log2(self):
        """-log N(kappa) + kappa log 2
        = -[(m-1) log 2 + beta log pi + lgamma(alpha) - lgamma(alpha + beta)], in float64."""
        alpha, beta = self._alpha, self._beta
        return -(
            (self._m - 1) * math.log(2)
            + beta * math.log(math.pi)
            + torch.lgamma(alpha)
            - torch.lgamma(alpha + beta)
        )

    @property
    def mean(self):
        """E[z] = E[t] mu, E[t] = (alpha - beta)/(alpha + beta) = kappa / (kappa + m - 1)."""
        kappa = self.concentration
        return (kappa / (kappa + self._m - 1)).unsqueeze(-1) * self.loc

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)[:-1]
        x = torch.distributions.Gamma(self._alpha.expand(shape), 1.0).rsample()
        y = torch.distributions.Gamma(torch.full_like(x, self._beta), 1.0).sample()
        one_minus_t, one_plus_t = 2 * y / (x + y), 2 * x / (x + y)
        t = ((one_plus_t - one_minus_t) / 2).to(self.loc.dtype)
        radius = torch.sqrt(one_minus_t * one_plus_t).to(self.loc.dtype)
        v = uniform_direction(shape, self._m - 1, self.loc.dtype, self.loc.device)
        z_prime = torch.cat((t.unsqueeze(-1), radius.unsqueeze(-1) * v), dim=-1)
        return householder_rotation(self.loc, z_prime)

    def log_prob(self, value):
        r"""log p(z) = -log N(kappa) + kappa log(1 + mu.z).

        1 + mu.z is taken as 2 - |z - mu|^2/2 near mu (written kappa log 2 + kappa log1p(-|z - mu|^2/4),
        accurate at large kappa) and as |z + mu|^2/2 near -mu (exact down to 0; kappa = 0 gives 0).
        """
        if self._validate_args:
            self._validate_sample(value)
        kappa = self.concentration
        distance2 = (value - self.loc).pow(2).sum(-1)
        antipodal2 = (value + self.loc).pow(2).sum(-1)
        near = distance2 <= antipodal2
        log_power = torch.where(
            near,
            torch.special.xlog1py(kappa, -torch.where(near, distance2, 0.0) / 4),
            torch.xlogy(kappa, torch.where(near, 4.0, antipodal2) / 4),
        )
        return self._log_normalizer_plus_kappa_log2.to(value.dtype) + log_power

    def entropy(self):
        """H = log N(kappa) - kappa (log 2 + digamma(alpha) - digamma(alpha + beta))."""
        alpha, beta = self._alpha, self._beta
        kappa = self.concentration.to(torch.float64)
        log_ratio = torch.digamma(alpha) - torch.digamma(alpha + beta)
        entropy = -(self._log_normalizer_plus_kappa_log2 + kappa * log_ratio)
        return entropy.to(self.loc.dtype)
