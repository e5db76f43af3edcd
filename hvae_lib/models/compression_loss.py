r"""The follow-up paper's "KLD-like" objective in hyperspherical coordinates, and the standard KLD.

The compressed VAE has no prior density. Its regulariser pulls *batch statistics* of the
encoder's outputs mu(x) and sigma(x) = exp(logvar / 2), in hyperspherical coordinates
(``hvae_lib.coordinates``), toward targets. With C(v)_k = v_k / sqrt(v_k^2 + ... + v_n^2 + eps)
the cosines of v's angles, m_b the batch mean, sd_b(v) = sqrt(unbiased batch variance + 1e-4),
g_k the angle gains and p_k = C(1, ..., 1)_k ~ 1/sqrt(n-k+1) the sd of cos phi_k under N(0, I):

    Phi_mu    = sum_k g_k f(sd_b C(mu)_k + 1 - p_k)   + 0.05 sum_k g_k (a_k - m_b C(mu)_k)^2
    R_mu      = 50 f(sd_b |mu| + 1)                   + 50 (m_b |mu| - sqrt(n - 1/2))^2
    Phi_sigma = sum_k g_k f(sd_b C(sigma)_k + 1)      + 0.05 sum_k g_k (p_k - m_b C(sigma)_k)^2
    R_sigma   = 50 f(sd_b |sigma| / sqrt(1/2))        + 50 (m_b |sigma| - c sqrt(n - 1/2))^2
    KLD_HSph  = 1000 Phi_mu + 300 R_mu + G_sigma Phi_sigma + 500 R_sigma

with g_k = 50 sqrt(n) / sqrt(k), a_k = 1 ("full" compression: every angle toward 0), c = 1 and
G_sigma = 5e4 (MNIST), 2.25e5 (Fashion-MNIST) or 5e5 (CIFAR-10). This is the authors' code
(``loss_functions.py`` at the generation paper's HEAD), the ``code`` form, where f(x) = x^2 -
log x^2 - 1. The paper's eqs. 4-5 write every sd term as a squared error; the ``paper`` form
uses 2 (x - 1)^2, the quadratic with f's curvature at its minimum, so the two forms share their
optimum and their gains. sqrt(n - 1/2) and sqrt(1/2) are the mean and sd of |N(0, I_n)|, the chi_n
moments, as p_k is for the angles.

Every quantity is per run: inputs have shape (runs, batch, n), batch statistics are over the
batch dimension, and each term has shape (runs,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hvae_lib.coordinates import hyperspherical_cosines, masked_hyperspherical_cosines

FORMS = ("code", "paper")
COMPRESSIONS = ("full", "half", "first")
GAIN_ORDERS = ("forward", "reversed", "constant")
TRANSFORMS = {"suffix": hyperspherical_cosines, "masked": masked_hyperspherical_cosines}
# G_sigma of the authors' code per data set.
SIGMA_GAINS = {"mnist": 5e4, "fashion-mnist": 2.25e5, "cifar10": 5e5}


@dataclass(frozen=True)
class CompressionLoss:
    """Settings of the compression objective; the defaults are the authors' code.

    Args:
        form: "code" (f(x) = x^2 - log x^2 - 1 on the sd terms) or "paper" (2 (x - 1)^2, eqs. 4-5).
        compress: mean target a_k of cos phi^mu_k: "full" (1 for every k, the paper's experiments),
            "half" (p_k, toward the (1, ..., 1) direction) or "first" (1 for phi_1, 0, the
            isotropic mean, for the others).
        compress_last_angle: whether the signed last angle phi_(n-1) gets a mean target (the
            code of the generation paper: yes; the later anomaly-detection code: no).
        gain_order: g_k = 50 sqrt(n / k) counted from the first angle ("forward", the code),
            from the last ("reversed", as the paper's justification reads), or 50 ("constant").
        sigma_gain: G_sigma.
        sigma_radius_scale: c in the mean target c sqrt(n - 1/2) of |sigma| (1.0 at the code's
            HEAD, 0.6 in its first upload).
        cos_eps: eps under the square root of the cosines (1e-3 in the code).
        sd_eps: added to the batch variance before its square root (1e-4 in the code).
        weights: the gains of (Phi_mu, R_mu, R_sigma); G_sigma weighs Phi_sigma.
        transform: how the cosines are computed: "suffix" (O(n) per row) or "masked" (the
            authors' O(n^2) mask); the values agree to rounding, only the cost differs.
    """

    form: str = "code"
    compress: str = "full"
    compress_last_angle: bool = True
    gain_order: str = "forward"
    sigma_gain: float = SIGMA_GAINS["mnist"]
    sigma_radius_scale: float = 1.0
    cos_eps: float = 1e-3
    sd_eps: float = 1e-4
    weights: tuple[float, float, float] = (1000.0, 300.0, 500.0)
    transform: str = "suffix"

    def __post_init__(self):
        for name, value, allowed in (("form", self.form, FORMS), ("compress", self.compress, COMPRESSIONS),
                                     ("gain_order", self.gain_order, GAIN_ORDERS), ("transform", self.transform, tuple(TRANSFORMS))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.cos_eps < 0 or self.sd_eps < 0 or self.sigma_gain < 0:
            raise ValueError("cos_eps, sd_eps and sigma_gain must be non-negative")

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = x^2 - log x^2 - 1 ("code") or 2 (x - 1)^2 ("paper"): 0 at x = 1, curvature 4."""
        if self.form == "code":
            square = x.square()
            return square - square.log() - 1
        return 2 * (x - 1).square()

    def gains(self, n: int, dtype=torch.float32, device=None) -> torch.Tensor:
        """g_k for k = 1..n-1."""
        k = torch.arange(1, n, dtype=dtype, device=device)
        if self.gain_order == "reversed":
            k = k.flip(0)
        if self.gain_order == "constant":
            return torch.full_like(k, 50.0)
        return 50 * math.sqrt(n) / k.sqrt()

    def isotropic_sd(self, n: int, dtype=torch.float32, device=None) -> torch.Tensor:
        """p_k = C(1, ..., 1)_k, with the same eps as the loss (~ 1/sqrt(n-k+1), the sd of
        cos phi_k under N(0, I_n))."""
        return hyperspherical_cosines(torch.ones(n, dtype=dtype, device=device), self.cos_eps)

    def mean_targets(self, n: int, dtype=torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(a_k, mask): the mean targets of cos phi^mu_k and which angles have one."""
        p = self.isotropic_sd(n, dtype, device)
        if self.compress == "full":
            target = torch.ones_like(p)
        elif self.compress == "half":
            target = p
        else:
            target = torch.zeros_like(p)
            target[0] = 1
        mask = torch.ones_like(p)
        if not self.compress_last_angle:
            mask[-1] = 0
        return target, mask

    def batch_sd(self, v: torch.Tensor) -> torch.Tensor:
        """sqrt(unbiased variance over the batch (dim -2 of (runs, batch, k), or -1 of (runs, batch)) + sd_eps)."""
        return (v.var(dim=1) + self.sd_eps).sqrt()

    def terms(self, mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
        """Phi_mu, R_mu, Phi_sigma, R_sigma and their weighted sum ``total``, each of shape (runs,),
        for mu and logvar of shape (runs, batch, n)."""
        if mu.dim() != 3 or mu.shape != logvar.shape or mu.shape[1] < 2:
            raise ValueError(f"mu and logvar must both be (runs, batch >= 2, n), got {tuple(mu.shape)} and {tuple(logvar.shape)}")
        n = mu.shape[-1]
        factory = {"dtype": mu.dtype, "device": mu.device}
        g, p = self.gains(n, **factory), self.isotropic_sd(n, **factory)
        target, mask = self.mean_targets(n, **factory)
        sigma = (0.5 * logvar).exp()
        radius_mean = math.sqrt(n - 0.5)

        cosines = TRANSFORMS[self.transform]
        cos_mu = cosines(mu, self.cos_eps)
        phi_mu = (g * self.penalty(self.batch_sd(cos_mu) + 1 - p)).sum(-1) \
            + 0.05 * (g * mask * (target - cos_mu.mean(1)).square()).sum(-1)
        r_mu = mu.norm(dim=-1)
        radius_mu = 50 * self.penalty(self.batch_sd(r_mu) + 1) + 50 * (r_mu.mean(1) - radius_mean).square()

        cos_sigma = cosines(sigma, self.cos_eps)
        phi_sigma = (g * self.penalty(self.batch_sd(cos_sigma) + 1)).sum(-1) \
            + 0.05 * (g * (p - cos_sigma.mean(1)).square()).sum(-1)
        r_sigma = sigma.norm(dim=-1)
        radius_sigma = 50 * self.penalty(self.batch_sd(r_sigma) / math.sqrt(0.5)) \
            + 50 * (r_sigma.mean(1) - self.sigma_radius_scale * radius_mean).square()

        w_phi, w_r_mu, w_r_sigma = self.weights
        total = w_phi * phi_mu + w_r_mu * radius_mu + self.sigma_gain * phi_sigma + w_r_sigma * radius_sigma
        return {"phi_mu": phi_mu, "r_mu": radius_mu, "phi_sigma": phi_sigma, "r_sigma": radius_sigma, "total": total}


def standard_kld(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) as the authors' code averages it: a mean over the latent
    dimensions, then over the batch; shape (runs,) for inputs (runs, batch, n). (So its beta is
    the usual beta times n.)"""
    return (-0.5 * (1 + logvar - logvar.exp() - mu.square())).mean(-1).mean(-1)
