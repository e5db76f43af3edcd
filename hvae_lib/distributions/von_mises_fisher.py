r"""The von Mises-Fisher distribution on S^(m-1) in R^m, sampled as in Davidson et al. (2018)."""

import math

import torch
from torch.distributions.utils import lazy_property

from hvae_lib.special import bessel_ratio

from .directional import DirectionalDistribution
from .householder import rotate_tangent_sample
from .hyperspherical_uniform import log_sphere_area
from .noise import GlobalNoise, Noise
from .vmf_functions import kl_to_uniform, log_normalised_bessel_iv

__all__ = ["VonMisesFisher"]

_MAX_ROUNDS = 100
# Up to this many draws per run, the rounds after the first give each waiting draw
# ``_LATER_PROPOSALS`` proposals at once (see ``_wood_rejection``).
_SMALL_BATCH = 1024
_LATER_PROPOSALS = 4


def _beta_proposal(noise, alpha, counts, dtype, device):
    r"""eps ~ Beta(c/2, c/2) and 1 - eps, each relatively accurate, from one Gamma(c/2) draw.

    With y the first coordinate of a uniform point of S^(c) in R^(c+1), (1 + y)/2 ~ Beta(c/2, c/2),
    and y = g / r, r = sqrt(g^2 + 2 G), g ~ N(0, 1), G ~ Gamma(c/2) (2 G ~ chi^2_c). So
        (1 - |y|)/2 = G / (r (r + |g|)),   (1 + |y|)/2 = 1/2 + |g| / (2 r),
    and the sign of g says which of the two is eps: one normal draw replaces the second Gamma draw
    of x/(x+y), and neither half cancels. ``counts`` values per run come from ``noise``.
    """
    g = noise.randn(counts, dtype, device)
    big_g = noise.standard_gamma(alpha, counts, dtype, device)
    r = torch.sqrt(g * g + 2 * big_g)
    g_abs = g.abs()
    small, large = big_g / (r * (r + g_abs)), 0.5 + 0.5 * g_abs / r
    negative = g < 0
    return torch.where(negative, small, large), torch.where(negative, large, small)


def _accept(eps, eps_c, b, two_ab, d, c, noise, counts):
    """The test (m-1) log t - t + d >= log u of Algorithm 2, t = 2 a b / (1 - (1-b) eps), in float64."""
    t = two_ab / (eps_c + b * eps)
    u = noise.rand(counts, eps.dtype, eps.device).view(eps.shape)
    return c * torch.log(t) - t + d >= torch.log(u)


def _wood_rejection(m, kappa, dtype, noise):
    r"""Algorithm 2 of the paper (Ulrich 1984, Wood 1994) up to the acceptance of eps.

        b = (m-1) / (2 kappa + sqrt(4 kappa^2 + (m-1)^2))   [= (-2 kappa + sqrt(...)) / (m-1)]
        a = ((m-1) + 2 kappa + sqrt(4 kappa^2 + (m-1)^2)) / 4
        d = 4 a b / (1 + b) - (m-1) log(m-1)
        repeat
            eps ~ Beta((m-1)/2, (m-1)/2)
            t = 2 a b / (1 - (1-b) eps)
            u ~ U(0, 1)
        until (m-1) log(t) - t + d >= log(u)

    Then w = h(eps, kappa) has the density g(w | kappa) of mu.z (see ``VonMisesFisher``). Each round
    gives every draw still waiting k proposals (``_beta_proposal``: one normal and one Gamma draw
    each, in ``dtype``) and keeps the first accepted, which is the same law as proposing one at a
    time; the first round covers all draws with k = 1 and without gathering, the later ones only
    the rejected (indices found once per round). a, b, d are formed once, in float64, and so is
    the test, whose terms are of size m log m. The acceptance rate is at least 0.65 for every m
    and kappa (0.66 at m = 2, kappa >> 1; 1 at kappa = 0), so a proposal is rejected with
    probability below 0.35; the 100 rounds allowed (a 1e-45 chance per draw of running out) are
    never used up in practice, and running out raises a RuntimeError. kappa = 0 gives b = 1,
    t = m - 1 and acceptance with probability one.

    How many proposals a later round gives: a round costs about 3 generator calls per run and
    ~15 small tensor operations whatever its size. For a training batch (at most
    ``_SMALL_BATCH`` draws per run) that fixed cost dominates, and one proposal per round needs
    ~6 rounds for 64 draws in each of 10 runs; with k = ``_LATER_PROPOSALS`` = 4 a waiting draw
    survives a round with probability below 0.35^4 = 0.015 and the loop ends after ~3 rounds,
    for ~0.9 extra proposals per draw. Larger batches (evaluation: a 1e5 batch needs about 12
    rounds) keep k = 1, where the draws themselves, the Gamma draw above all, cost the most.

    Args:
        m (int): the ambient dimension, >= 2.
        kappa (Tensor): float64 concentrations, one per draw (no gradient is taken here).
        dtype: float32 or float64, the dtype of the proposals.
        noise (Noise): the source of the proposals; with one generator per run (``RunNoise``,
            runs along kappa's first dimension) each run's rounds draw only for its own rejected
            draws, so a run's proposals never depend on the other runs.

    Returns:
        (eps, 1 - eps), tensors of ``kappa``'s shape in ``dtype``.
    """
    c = m - 1
    flat = kappa.reshape(-1)
    root = torch.sqrt(4 * flat**2 + c**2)
    b = c / (2 * flat + root)
    two_ab = (c + 2 * flat + root) * b / 2
    d = 2 * two_ab / (1 + b) - c * math.log(c)
    proposal = (noise, c / 2)
    per_run = flat.numel() // noise.runs
    k = _LATER_PROPOSALS if per_run <= _SMALL_BATCH else 1
    eps, eps_c = torch.empty_like(flat, dtype=dtype), torch.empty_like(flat, dtype=dtype)
    todo = torch.arange(flat.numel(), device=flat.device)
    for round_ in range(_MAX_ROUNDS):
        if todo.numel() == 0:
            break
        if round_ == 0:  # every draw: no gather or scatter
            counts = noise.split(flat.numel())
            eps, eps_c = _beta_proposal(*proposal, counts, dtype, flat.device)
            todo = (~_accept(eps, eps_c, b, two_ab, d, c, noise, counts)).nonzero().squeeze(-1)
            constants = torch.stack((b, two_ab, d))  # gathered once per later round
            continue
        counts = [k * n for n in _counts_per_run(todo, per_run, noise.runs)]  # run-major: draw i's k are adjacent
        e, e_c = (x.view(-1, k) for x in _beta_proposal(*proposal, counts, dtype, flat.device))
        b_todo, two_ab_todo, d_todo = constants[:, todo].unsqueeze(-1)
        accept = _accept(e, e_c, b_todo, two_ab_todo, d_todo, c, noise, counts)
        accepted = accept.any(dim=1)
        rows = accepted.nonzero().squeeze(-1)
        first = accept[rows].to(torch.uint8).argmax(dim=1)  # the first accepted of each row's k
        done = todo[rows]
        eps[done], eps_c[done] = e[rows, first], e_c[rows, first]
        todo = todo[~accepted]
    if todo.numel() > 0:
        raise RuntimeError(
            f"VonMisesFisher rejection sampler: {todo.numel()} draws not accepted after "
            f"{_MAX_ROUNDS} rounds of up to {k} proposals (m={m}, kappa in "
            f"[{flat[todo].min().item():.3g}, {flat[todo].max().item():.3g}])"
        )
    return eps.reshape(kappa.shape), eps_c.reshape(kappa.shape)


def _counts_per_run(todo, per_run, runs):
    """How many of the (sorted, run-major) flat indices ``todo`` each run owns."""
    if runs == 1:
        return [todo.numel()]
    return torch.bincount(todo // per_run, minlength=runs).tolist()


def _one_minus_w_closed_form_m3(kappa, u, u_c):
    r"""m = 3: 1 - w for w = 1 + log(u + (1-u) e^(-2 kappa)) / kappa, the inverse CDF of
    g(w) ∝ exp(kappa w), given u in (0, 1] and u_c = 1 - u.

    1 - w = -L / kappa, L = log(s), s = u + (1-u) e^(-2 kappa), a sum of positive terms: log(s) is
    relatively accurate for s < 1/2 (|L| > log 2), and for s >= 1/2 L = log1p((1-u) expm1(-2 kappa))
    has no cancellation in 1 + (1-u) expm1(-2 kappa) >= 1/2. Below kappa = 1e-8 the Taylor
    expansion 2 (1-u)(1 - kappa u) + O(kappa^2) is used (kappa = 0: uniform w). u > 0 keeps
    L >= log(u) finite at every kappa.
    """
    tiny = kappa < 1e-8
    k = torch.where(tiny, 1.0, kappa)
    two_k = (2 * k).clamp(max=80.0)  # e^-80 < 1e-19 u for every u > 0 that rand gives: no change
    s = u + u_c * torch.exp(-two_k)  # and exp's slow path for underflowing results is avoided
    log_s = torch.where(s < 0.5, torch.log(s), torch.log1p(u_c * torch.expm1(-two_k)))
    return torch.where(tiny, 2 * u_c * (1 - kappa * u), -log_s / k)


class VonMisesFisher(DirectionalDistribution):
    r"""The von Mises-Fisher distribution vMF(mu, kappa) on S^(m-1) = {z in R^m : |z| = 1}, m >= 2.

    Density with respect to the surface measure:
        q(z | mu, kappa) = C_m(kappa) exp(kappa mu.z),
        C_m(kappa) = kappa^(m/2-1) / ((2 pi)^(m/2) I_(m/2-1)(kappa)),
    uniform at kappa = 0 (C_m(0) = 1/|S^(m-1)|).

    The component w = mu.z has density on [-1, 1]
        g(w | kappa) = C_m(kappa) |S^(m-2)| exp(kappa w) (1 - w^2)^((m-3)/2).
    ``rsample`` draws it by rejection (m != 3) from eps ~ s = Beta((m-1)/2, (m-1)/2) through
        w = h(eps, kappa) = (1 - (1+b) eps) / (1 - (1-b) eps),
    whose image density under s is r(w | kappa) = s(eps) / |dh/deps|, |dh/deps| = 2b/(1-(1-b)eps)^2;
    for m = 3 it uses the inverse CDF of g, with no rejection.

    Gradients. ``rsample`` gives the reparameterisation part g_rep of the paper's Lemma 2: the
    accepted eps is held fixed, and gradients reach kappa through w = h(eps, kappa) and mu through the
    Householder map (as the official code does). This misses the term that comes from the
    acceptance step depending on kappa, so E[g_rep] is biased for m != 3.
    ``rsample_with_correction`` also returns the Lemma-2 correction, see its docstring.

    Numerics: w is carried as 1 - w and 1 + w (float32 for float32 ``loc``, each relatively
    accurate), so sqrt(1 - w^2) = sqrt((1-w)(1+w)) is accurate up to kappa = 1e8 whatever the dtype
    of ``loc``; ``log_prob`` uses
    kappa (mu.z - 1) = -kappa |z - mu|^2 / 2 and the float64 value of log C_m(kappa) + kappa.

    Args:
        loc (Tensor): mean direction mu, unit vectors of shape ``(..., m)``.
        concentration (Tensor or float): kappa >= 0, broadcastable with ``loc.shape[:-1]``;
            cast to ``loc``'s dtype.
        validate_args (bool, optional): check ``|loc| = 1`` and ``concentration >= 0`` (NaN fails).
    """


    @lazy_property
    def _kappa64(self):
        return self.concentration.to(torch.float64)

    @lazy_property
    def _mean_resultant_length(self):
        """A_m(kappa) = I_(m/2)(kappa) / I_(m/2-1)(kappa) = E[mu.z], in float64."""
        return bessel_ratio(self._m / 2, self._kappa64)

    @lazy_property
    def _log_normalizer_plus_kappa(self):
        """log C_m(kappa) + kappa = kappa - S_(m/2-1)(kappa) - log|S^(m-1)|, in float64."""
        kappa = self._kappa64
        return kappa - log_normalised_bessel_iv(self._m / 2 - 1, kappa) - log_sphere_area(self._m)

    @property
    def mean(self):
        return self._mean_resultant_length.to(self.loc.dtype).unsqueeze(-1) * self.loc

    @property
    def _work_dtype(self):
        """The dtype of eps and 1 - w: float64 for float64 ``loc``, float32 otherwise."""
        return torch.float64 if self.loc.dtype == torch.float64 else torch.float32

    def _sample_eps(self, shape, noise):
        """The noise of Algorithm 1 that does not depend on the parameters: (eps, 1 - eps) of
        Algorithm 2 in ``_work_dtype``, or (u, 1 - u) with u ~ U(0, 1] in float64 for the closed
        form at m = 3."""
        if self._m == 3:
            u_c = noise.rand(noise.split(shape.numel()), torch.float64, self.loc.device).reshape(shape)
            return 1 - u_c, u_c
        return _wood_rejection(self._m, self._kappa64.detach().expand(shape), self._work_dtype, noise)

    def _b(self, kappa):
        c = self._m - 1
        return c / (2 * kappa + torch.sqrt(4 * kappa**2 + c**2))

    def _h(self, eps, eps_c):
        """(1 - w, 1 + w) for w = h(eps, kappa), differentiable in kappa, in ``_work_dtype``.

        For m != 3 both are relatively accurate in float32 whenever eps and 1 - eps are, and so is
        their derivative in kappa, which passes through b only: b is formed in float64 (once per
        distribution, not per sample) and the rest has no cancellation. The closed form at m = 3
        is evaluated in float64: its kappa-derivative cancels for small kappa (to ~ eps / kappa)."""
        if self._m == 3:
            one_minus_w = _one_minus_w_closed_form_m3(self._kappa64.expand(eps.shape), eps, eps_c)
            return one_minus_w.to(self._work_dtype), (2 - one_minus_w).to(self._work_dtype)
        b = self._b(self._kappa64).to(eps.dtype)
        denominator = eps_c + b * eps  # 1 - (1-b) eps
        return 2 * b * eps / denominator, 2 * eps_c / denominator

    def _noise(self, noise, sample_shape):
        """``noise`` or the global generator; a per-run source needs the runs to lead the batch."""
        if noise is None:
            return GlobalNoise()
        if not isinstance(noise, Noise):
            raise TypeError(f"noise must be a hvae_lib.distributions.noise.Noise, got {type(noise).__name__}")
        if noise.runs > 1 and (len(sample_shape) > 0 or not self.batch_shape or self.batch_shape[0] != noise.runs):
            raise ValueError(
                f"a noise source of {noise.runs} runs needs batch shape ({noise.runs}, ...) and no sample "
                f"shape, got batch shape {tuple(self.batch_shape)} and sample shape {tuple(sample_shape)}"
            )
        return noise

    def rsample(self, sample_shape=torch.Size(), noise=None):
        r"""Algorithm 1 of Davidson et al. (2018):

            sample v ~ U(S^(m-2))
            sample w ~ g(w | kappa, m) ∝ exp(kappa w) (1 - w^2)^((m-3)/2)   (Algorithm 2; m = 3: closed form)
            z' = (w; sqrt(1 - w^2) v)^T
            U = Householder(e1, mu)
            return U z'

        Gradients are g_rep (the accepted eps held fixed); see ``rsample_with_correction``.
        ``noise`` (a ``hvae_lib.distributions.noise.Noise``) says where the random numbers come
        from: torch's global generator by default, or one generator per run of an ensemble.
        """
        sample_shape = torch.Size(sample_shape)
        noise = self._noise(noise, sample_shape)
        shape = self._extended_shape(sample_shape)[:-1]
        gaussian = self._sample_direction(shape, noise)
        return self._lift(gaussian, *self._h(*self._sample_eps(shape, noise)))

    def _sample_direction(self, shape, noise):
        """The other noise of Algorithm 1, for v ~ U(S^(m-2)): i.i.d. standard normal columns 2..m
        of a ``shape + (m,)`` tensor (column 1 unused), or a random sign there for m = 2, where a
        Gaussian could be exactly zero."""
        dtype, device = self.loc.dtype, self.loc.device
        full = shape + (self._m,)
        counts = noise.split(full.numel())
        if self._m == 2:
            return torch.where(noise.rand(counts, torch.float32, device).reshape(full) < 0.5, -1.0, 1.0).to(dtype)
        return noise.randn(counts, dtype, device).reshape(full)

    def _lift(self, gaussian, one_minus_w, one_plus_w):
        """z = U z', z' = (w; sqrt(1 - w^2) v), v = the normalised columns 2..m of ``gaussian``
        (``_sample_direction``): the end of Algorithm 1, fused (``rotate_tangent_sample``)."""
        w = (1 - one_minus_w).to(self.loc.dtype)
        radius = torch.sqrt(one_minus_w * one_plus_w).to(self.loc.dtype)
        return rotate_tangent_sample(self.loc, w, radius, gaussian)

    def rsample_with_correction(self, sample_shape=torch.Size(), noise=None):
        r"""A reparameterised sample z and the log-ratio for the full gradient of Lemma 2.

        Lemma 2 of the paper (Naesseth et al. 2017): for accepted eps with w = h(eps, kappa),
            d/dtheta E_q[f(z)] = E[ d/dtheta f(z) ]                                   (g_rep)
                + E[ f(z) d/dtheta log( g(h(eps, theta) | theta) / r(h(eps, theta) | theta) ) ]  (g_cor)
        with g the density of w = mu.z, r(w | kappa) = s(eps)/|dh/deps| the density of the
        proposal eps ~ s = Beta((m-1)/2, (m-1)/2) mapped through h (see the class docstring). Only
        kappa enters g/r (mu acts through the Householder map, a fixed orthogonal change of
        variables), and in terms of eps
            log_correction = log g(h(eps, kappa) | kappa) - log s(eps) + log|dh/deps (eps, kappa)|
              = log C_m(kappa) + kappa w + (m-3)/2 log(1 - w^2) + log|S^(m-2)|
                - log s(eps) + log(2 b) - 2 log(1 - (1-b) eps),
        differentiable in kappa with eps held fixed (its value is log(M a(eps)) <= log M, a the
        acceptance probability, M the envelope constant). For m = 3 the closed form involves no
        rejection and log_correction is identically 0.

        Use it as a surrogate: with per-sample values f = f(z),
            surrogate = f + f.detach() * (log_correction - log_correction.detach())
        has the value of f and, averaged over samples, the gradient g_rep + g_cor, an unbiased
        estimate of the gradient of E_q[f(z)].

        Returns:
            (z, log_correction): shapes ``sample_shape + batch_shape + (m,)`` and
            ``sample_shape + batch_shape``, both in ``loc``'s dtype.
        """
        sample_shape = torch.Size(sample_shape)
        noise = self._noise(noise, sample_shape)
        shape = self._extended_shape(sample_shape)[:-1]
        gaussian = self._sample_direction(shape, noise)
        eps, eps_c = self._sample_eps(shape, noise)
        one_minus_w, one_plus_w = self._h(eps, eps_c)
        z = self._lift(gaussian, one_minus_w, one_plus_w)
        if self._m == 3:
            return z, torch.zeros(shape, dtype=self.loc.dtype, device=self.loc.device)
        m, c = self._m, self._m - 1
        kappa = self._kappa64.expand(shape)
        log_g = (
            self._log_normalizer_plus_kappa.expand(shape)
            - kappa * one_minus_w
            + (m - 3) / 2 * torch.log(one_minus_w * one_plus_w)
            + log_sphere_area(m - 1)
        )
        log_s = (c / 2 - 1) * (torch.log(eps) + torch.log(eps_c)) - (
            2 * math.lgamma(c / 2) - math.lgamma(c)
        )
        b = self._b(kappa)
        log_dh = torch.log(2 * b) - 2 * torch.log(eps_c + b * eps)
        return z, (log_g - log_s + log_dh).to(self.loc.dtype)

    def log_prob(self, value):
        r"""log q(z) = log C_m(kappa) + kappa mu.z = (log C_m(kappa) + kappa) - kappa |z - mu|^2 / 2.

        On the sphere mu.z - 1 = -|z - mu|^2/2; this form keeps its relative accuracy when z is
        near mu (where float32 rounds mu.z to 1 once kappa > 1e7), and log C_m(kappa) + kappa
        (about (m-1)/2 log kappa) is computed in float64 without cancellation. At kappa = 0 it is
        -log|S^(m-1)|, the uniform density.
        """
        if self._validate_args:
            self._validate_sample(value)
        distance2 = (value - self.loc).pow(2).sum(-1)
        return self._log_normalizer_plus_kappa.to(value.dtype) - self.concentration * distance2 / 2

    def entropy(self):
        """H = -kappa A_m(kappa) - log C_m(kappa) = log|S^(m-1)| - KL(q || uniform)."""
        kl = kl_to_uniform(self._m, self._kappa64)
        return (log_sphere_area(self._m) - kl).to(self.loc.dtype)
