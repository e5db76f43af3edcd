r"""The von Mises-Fisher chapter: the density on S^2, why a Gaussian prior fails in low
dimensions, the sampler in pictures, the numerics of the normaliser, and the benchmark.

Every function takes the profile first: ``smoke`` draws few samples (the chapter runs in
seconds), ``cpu`` and ``full`` draw enough for smooth figures. Sampling runs under a fixed seed
inside ``torch.random.fork_rng``, so the global generator is left as it was.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import mpmath
import numpy as np
import pandas as pd
import scipy.special
import torch

from hvae_lib.distributions import HypersphericalUniform, VonMisesFisher, log_normalised_bessel_iv, log_sphere_area
from hvae_lib.plotting import COLORS, hammer_projection
from hvae_lib.results.store import PROFILES
from hvae_lib.special import log_bessel_iv


@dataclass(frozen=True)
class VMFChapterProfile:
    sphere_points: int  # per kappa, Hammer scatter
    gaussian_draws: int  # per dimension, soap bubble
    w_draws: int  # per (m, kappa), w histograms
    proposals: int  # per (m, kappa), acceptance rates
    acceptance_kappas: int  # grid points in kappa


SIZES = {
    "smoke": VMFChapterProfile(300, 2_000, 2_000, 2_000, 9),
    "cpu": VMFChapterProfile(3_000, 200_000, 200_000, 100_000, 41),
    "full": VMFChapterProfile(3_000, 200_000, 200_000, 100_000, 41),
}
SEED = 0

SPHERE_KAPPAS = (1.0, 10.0, 100.0)
SOAP_DIMENSIONS = (1, 2, 3, 10, 40, 100)
W_DIMENSIONS = (3, 10, 100)
W_KAPPAS = (1.0, 10.0, 100.0)
ACCEPTANCE_DIMENSIONS = (2, 5, 10, 100, 1000)
ACCEPTANCE_KAPPA_RANGE = (1e-2, 1e4)
BESSEL_KAPPAS = (0.1, 1.0, 10.0)
BESSEL_DIMENSIONS = tuple(int(m) for m in np.unique(np.round(np.geomspace(4, 1024, 33) / 2) * 2))
FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)
MPMATH_POINTS = ((3, 1.0), (10, 1.7), (64, 1.7), (128, 1.7), (128, 1.0), (512, 10.0), (1024, 0.1))


def _sizes(profile: str) -> VMFChapterProfile:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return SIZES[profile]


def _unit(*xs: float) -> torch.Tensor:
    x = torch.tensor(xs, dtype=torch.float64)
    return x / x.norm()


def _vmf_samples(m: int, kappa: float, n: int, seed: int = SEED) -> torch.Tensor:
    mu = torch.zeros(m, dtype=torch.float64)
    mu[0] = 1
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64)).rsample((n,))


# --- the density on S^2 ---------------------------------------------------------------------


def sphere_samples_figure(profile: str) -> plt.Figure:
    """Samples of vMF(mu, kappa) on S^2 in the Hammer equal-area projection, one panel per kappa."""
    sizes = _sizes(profile)
    mu = _unit(1.0, 0.6, 0.5)
    fig, axes = plt.subplots(1, len(SPHERE_KAPPAS), figsize=(9.0, 2.6))
    outline = np.linspace(0, 2 * np.pi, 200)
    for k, (ax, kappa) in enumerate(zip(axes, SPHERE_KAPPAS)):
        with torch.random.fork_rng():
            torch.manual_seed(SEED + k)
            z = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64)).rsample((sizes.sphere_points,))
        x, y = hammer_projection(z.numpy())
        ax.plot(2 * np.sqrt(2) * np.cos(outline), np.sqrt(2) * np.sin(outline), color=COLORS["reference"], lw=0.8)
        ax.scatter(x, y, s=3, alpha=0.5, color=COLORS["vmf"], linewidths=0)
        mx, my = hammer_projection(mu.numpy())
        ax.plot(mx, my, marker="+", color="black", ms=10, mew=1.5)
        ax.set_title(f"κ = {kappa:g}")
        ax.set_aspect("equal")
        ax.axis("off")
    return fig


# --- why not a Gaussian prior -----------------------------------------------------------------


def origin_gravity_figure(profile: str, d: int = 2) -> plt.Figure:
    r"""The KL term against the position of the code.

    Left: KL(N(mu, sigma^2 I_d) || N(0, I_d)) = (|mu|^2 + d sigma^2 - d - 2 d log sigma) / 2 grows
    with |mu|^2 whatever sigma: every code is pulled towards the origin. Right: KL(vMF(mu, kappa) ||
    U(S^(d))) (computed by ``kl_divergence``) does not depend on mu: no point of the sphere is
    preferred. ``d`` is the latent dimension (a circle S^1 in R^2 for the vMF at d = 1 would be
    m = 2; here the vMF lives on S^(d-1) in R^d, the same ambient space as the Gaussian).
    """
    _sizes(profile)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.2), sharey=True)
    radius = np.linspace(0, 3, 200)
    for sigma in (0.1, 0.5, 1.0):
        kl = (radius**2 + d * sigma**2 - d - 2 * d * np.log(sigma)) / 2
        left.plot(radius, kl, label=f"σ = {sigma:g}")
    left.set_xlabel(r"distance of the code from the origin, $\|\mu\|$")
    left.set_ylabel("KL to the prior (nats)")
    left.set_title(f"Gaussian code, N(0, I) prior, d = {d}")
    left.legend()
    angle = np.linspace(0, 2 * np.pi, 200)
    mus = torch.tensor(np.stack([np.cos(angle), np.sin(angle)], -1), dtype=torch.float64)
    mus = torch.nn.functional.pad(mus, (0, d - 2)) if d > 2 else mus
    for kappa in (1.0, 10.0, 100.0):
        q = VonMisesFisher(mus, torch.full((len(angle),), kappa, dtype=torch.float64))
        kl = torch.distributions.kl_divergence(q, HypersphericalUniform(d, dtype=torch.float64))
        right.plot(np.degrees(angle), kl.numpy(), label=f"κ = {kappa:g}")
    right.set_xlabel(r"direction of the code, angle of $\mu$ (degrees)")
    right.set_title(f"vMF code, uniform prior on $S^{{{d - 1}}}$")
    right.set_xticks([0, 90, 180, 270, 360])
    right.legend()
    return fig


def soap_bubble_table(profile: str) -> pd.DataFrame:
    r"""Norms of z ~ N(0, I_d): sample mean and sd, the exact chi_d values, and the share of the
    mass within 10% of sqrt(d) (a thin shell in high d) and within 0.5 of the origin."""
    sizes = _sizes(profile)
    rows = []
    for d, norms in _gaussian_norms(sizes.gaussian_draws).items():
        exact_mean = math.sqrt(2) * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
        rows.append({
            "d": d,
            "sqrt(d)": math.sqrt(d),
            "mean |z| (sample)": norms.mean(),
            "mean |z| (exact)": exact_mean,
            "sd |z| (sample)": norms.std(),
            "sd |z| (exact)": math.sqrt(d - exact_mean**2),
            "share within 10% of sqrt(d)": np.mean(np.abs(norms / math.sqrt(d) - 1) <= 0.1),
            "share with |z| < 0.5": np.mean(norms < 0.5),
        })
    return pd.DataFrame(rows).set_index("d")


def _gaussian_norms(n: int) -> dict[int, np.ndarray]:
    generator = torch.Generator().manual_seed(SEED)
    return {
        d: torch.linalg.vector_norm(torch.randn(n, d, generator=generator, dtype=torch.float64), dim=-1).numpy()
        for d in SOAP_DIMENSIONS
    }


def soap_bubble_figure(profile: str) -> plt.Figure:
    """Histograms of |z| for z ~ N(0, I_d), several d, with sqrt(d) marked."""
    sizes = _sizes(profile)
    fig, ax = plt.subplots(figsize=(8.0, 3.4))
    for i, (d, norms) in enumerate(_gaussian_norms(sizes.gaussian_draws).items()):
        color = plt.rcParams["axes.prop_cycle"].by_key()["color"][i]
        ax.hist(norms, bins=120, range=(0, 12), density=True, histtype="step", lw=1.4, color=color, label=f"d = {d}")
        ax.axvline(math.sqrt(d), color=color, ls=":", lw=1)
    ax.set_xlabel(r"$\|z\|$, $z \sim N(0, I_d)$   (dotted: $\sqrt{d}$)")
    ax.set_ylabel("density")
    ax.legend(ncol=2)
    return fig


# --- the sampler in pictures --------------------------------------------------------------------


def w_log_density(w, m: int, kappa: float):
    r"""log g(w | kappa) of w = mu.z under vMF on S^(m-1), normalised on [-1, 1]:

        g(w | kappa) = C_m(kappa) |S^(m-2)| exp(kappa w) (1 - w^2)^((m-3)/2),
        log C_m(kappa) = -log|S^(m-1)| - S_(m/2-1)(kappa)   (``log_normalised_bessel_iv``),

    written as kappa (w - 1) + (kappa - S) so that large kappa does not overflow. float64 numpy.
    """
    w = np.asarray(w, dtype=np.float64)
    kappa_t = torch.tensor(kappa, dtype=torch.float64)
    log_c_plus_kappa = float(-log_sphere_area(m) - log_normalised_bessel_iv(m / 2 - 1, kappa_t) + kappa_t)
    log_g = log_c_plus_kappa + log_sphere_area(m - 1) + kappa * (w - 1)
    if m == 3:
        return log_g
    with np.errstate(divide="ignore"):
        return log_g + (m - 3) / 2 * np.log1p(-w * w)


def w_marginal_figure(profile: str) -> plt.Figure:
    """Histograms of w = mu.z from ``VonMisesFisher.rsample`` against the density g(w | kappa)."""
    sizes = _sizes(profile)
    fig, axes = plt.subplots(len(W_DIMENSIONS), len(W_KAPPAS), figsize=(8.0, 6.0))
    for i, m in enumerate(W_DIMENSIONS):
        for j, kappa in enumerate(W_KAPPAS):
            ax = axes[i, j]
            w = _vmf_samples(m, kappa, sizes.w_draws, seed=SEED + 10 * i + j)[:, 0].numpy()
            lo, hi = np.quantile(w, [0.0005, 0.9995])
            lo, hi = max(-1.0, lo - 0.05 * (hi - lo)), min(1.0, hi + 0.05 * (hi - lo))
            ax.hist(w, bins=60, range=(lo, hi), density=True, color=COLORS["vmf"], alpha=0.45, label="samples")
            grid = np.linspace(lo, hi, 400)[:-1] if hi == 1.0 else np.linspace(lo, hi, 400)
            ax.plot(grid, np.exp(w_log_density(grid, m, kappa)), color="black", lw=1.2, label="g(w | κ)")
            ax.set_title(f"m = {m}, κ = {kappa:g}", fontsize=10)
            ax.tick_params(labelsize=8)
            if i == len(W_DIMENSIONS) - 1:
                ax.set_xlabel("w = μ·z")
    axes[0, 0].legend(fontsize=8)
    return fig


def _wood_constants(m: int, kappa: np.ndarray):
    """b, a, d of Algorithm 2 (as documented in ``von_mises_fisher._wood_rejection``), float64."""
    c = m - 1
    root = np.sqrt(4 * kappa**2 + c**2)
    b = c / (2 * kappa + root)
    a = (c + 2 * kappa + root) / 4
    d = 4 * a * b / (1 + b) - c * math.log(c)
    return b, a, d


def _log_acceptance(m: int, kappa, eps, eps_c):
    """log of the acceptance probability of proposal eps: (m-1) log t - t + d, t = 2ab/(1-(1-b)eps) (<= 0)."""
    b, a, d = _wood_constants(m, kappa)
    t = 2 * a * b / (eps_c + b * eps)
    return (m - 1) * np.log(t) - t + d


def acceptance_rates(profile: str, dimensions=ACCEPTANCE_DIMENSIONS, kappas=None) -> pd.DataFrame:
    r"""Acceptance rate of the rejection step of Algorithm 2, per (m, kappa).

    ``monte_carlo``: the share of proposals accepted, with proposals eps ~ Beta((m-1)/2, (m-1)/2)
    and u ~ U(0, 1) drawn as the sampler draws them (eps = x/(x+y), x, y ~ Gamma((m-1)/2)) and the
    sampler's test (m-1) log t - t + d >= log u re-implemented from its documented formulas
    (``VonMisesFisher`` does not expose its acceptance count); ``se`` its standard error under the
    exact rate (at least sqrt(1/n)/sqrt(n), so that a rate of 1 does not give a zero error).
    ``exact``: E_eps[exp((m-1) log t - t + d)] by Gauss-Jacobi quadrature (200 nodes) against the
    Beta density, the probability that one proposal is accepted. At m = 3 the sampler uses the
    closed-form inverse CDF and rejects nothing; the rate shown there is Algorithm 2's.
    """
    sizes = _sizes(profile)
    if kappas is None:
        kappas = np.geomspace(*ACCEPTANCE_KAPPA_RANGE, sizes.acceptance_kappas)
    generator = torch.Generator().manual_seed(SEED)
    rows = []
    for m in dimensions:
        half = (m - 1) / 2
        gamma = torch.distributions.Gamma(torch.tensor(half, dtype=torch.float64), 1.0)
        nodes, weights = scipy.special.roots_jacobi(200, half - 1, half - 1)  # weight (1-x)^(h-1) (1+x)^(h-1)
        q_eps, q_eps_c = (1 - nodes) / 2, (1 + nodes) / 2
        q_weights = weights / weights.sum()
        for kappa in kappas:
            with torch.random.fork_rng():
                torch.manual_seed(int(generator.seed() % 2**31))
                x, y = gamma.sample((2, sizes.proposals)).double()
                u = torch.rand(sizes.proposals, dtype=torch.float64)
            eps, eps_c = (x / (x + y)).numpy(), (y / (x + y)).numpy()
            accepted = _log_acceptance(m, kappa, eps, eps_c) >= np.log(u.numpy())
            rate = accepted.mean()
            exact = float(np.sum(q_weights * np.exp(_log_acceptance(m, kappa, q_eps, q_eps_c))))
            # The standard error of the share under the exact rate (at least that of one proposal in n).
            se = math.sqrt(max(exact * (1 - exact), 1 / sizes.proposals) / sizes.proposals)
            rows.append({"m": m, "kappa": float(kappa), "monte_carlo": rate, "se": se, "exact": exact})
    return pd.DataFrame(rows)


def acceptance_figure(rates: pd.DataFrame) -> plt.Figure:
    """Acceptance rate vs kappa, one line (quadrature) and its Monte Carlo points per m."""
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    for i, (m, group) in enumerate(rates.groupby("m")):
        color = plt.rcParams["axes.prop_cycle"].by_key()["color"][i]
        ax.plot(group.kappa, group.exact, color=color, label=f"m = {m}")
        ax.plot(group.kappa, group.monte_carlo, ls="none", marker="o", ms=3, color=color)
    ax.set_xscale("log")
    ax.set_ylim(0.5, 1.02)
    ax.set_xlabel("κ")
    ax.set_ylabel("acceptance rate")
    ax.set_title("Algorithm 2: lines exact (quadrature), dots the share of proposals accepted", fontsize=11)
    ax.legend(ncol=3)
    return fig


# --- numerics: the Bessel function in the normaliser ----------------------------------------------


def official_kl(m: int, kappa, dtype=np.float32):
    r"""KL(vMF || U) by the official code's formula (s-vae-pytorch, packaged in pythae), in numpy:

        kappa ive(m/2, kappa) / ive(m/2-1, kappa) + (m/2-1) log kappa - (m/2) log(2 pi)
        - log ive(m/2-1, kappa) - kappa - lgamma(m/2) + log 2 + (m/2) log pi,

    with ``scipy.special.ive`` evaluated in ``dtype`` (float32 in the official code's training).
    """
    kappa = np.asarray(kappa, dtype=dtype)
    with np.errstate(all="ignore"):
        ive_m2 = scipy.special.ive(dtype(m / 2), kappa)
        ive_v = scipy.special.ive(dtype(m / 2 - 1), kappa)
        return (
            kappa * (ive_m2 / ive_v)
            + dtype(m / 2 - 1) * np.log(kappa)
            - dtype(m / 2) * dtype(math.log(2 * math.pi))
            - np.log(ive_v)
            - kappa
            + dtype(-math.lgamma(m / 2) + math.log(2) + (m / 2) * math.log(math.pi))
        )


def our_kl(m: int, kappa, dtype=torch.float32) -> np.ndarray:
    """KL(vMF || U) by ``kl_divergence`` in ``dtype`` (the library computes in float64 and casts)."""
    kappa = torch.as_tensor(np.asarray(kappa, dtype=np.float64)).to(dtype)
    loc = torch.zeros(kappa.shape + (m,), dtype=dtype)
    loc[..., 0] = 1
    kl = torch.distributions.kl_divergence(VonMisesFisher(loc, kappa), HypersphericalUniform(m, dtype=dtype))
    return kl.numpy()


def mpmath_kl(m: int, kappa: float, digits: int = 50) -> float:
    """KL(vMF || U) = kappa A_m + log C_m + log|S^(m-1)| with mpmath at ``digits`` digits."""
    with mpmath.workdps(digits):
        k, v = mpmath.mpf(kappa), mpmath.mpf(m) / 2 - 1
        iv = mpmath.besseli(v, k)
        ratio = mpmath.besseli(v + 1, k) / iv
        log_c = v * mpmath.log(k) - (mpmath.mpf(m) / 2) * mpmath.log(2 * mpmath.pi) - mpmath.log(iv)
        log_area = mpmath.log(2) + (mpmath.mpf(m) / 2) * mpmath.log(mpmath.pi) - mpmath.loggamma(mpmath.mpf(m) / 2)
        return float(k * ratio + log_c + log_area)


@functools.lru_cache(maxsize=1)
def _bessel_grid() -> dict[str, np.ndarray]:
    """Arrays of shape (len(BESSEL_DIMENSIONS), len(BESSEL_KAPPAS)): float32 scipy log ive, our
    float32 log ive, the official float32 KL, ours in float32 and float64."""
    ms = np.array(BESSEL_DIMENSIONS)
    kappas = np.array(BESSEL_KAPPAS)
    v = (ms / 2 - 1)[:, None] * np.ones_like(kappas)
    with np.errstate(divide="ignore"):
        scipy32 = np.log(scipy.special.ive(v.astype(np.float32), kappas.astype(np.float32)))
    ours = log_bessel_iv(torch.tensor(v, dtype=torch.float32), torch.tensor(kappas, dtype=torch.float32).expand(v.shape))
    return {
        "scipy32_log_ive": scipy32.astype(np.float64),
        "ours32_log_ive": ours.double().numpy() - kappas,
        "official32_kl": np.stack([official_kl(int(m), kappas) for m in ms]).astype(np.float64),
        "ours32_kl": np.stack([our_kl(int(m), kappas, torch.float32) for m in ms]).astype(np.float64),
        "ours64_kl": np.stack([our_kl(int(m), kappas, torch.float64) for m in ms]),
    }


def bessel_underflow_figure(profile: str) -> plt.Figure:
    r"""Left: log ive(v, kappa) = log I_v(kappa) - kappa, v = m/2 - 1, by ``scipy.special.ive`` in
    float32 (crosses; it returns 0 below the smallest float32, ~1.4e-45, drawn as triangles on that
    line) and by our ``log_bessel_iv`` from float32 input (lines). Right: relative error of the KL
    in float32, by the official formula (dashed; triangles where NaN or infinite) and by ours
    (solid), against our float64 KL (which ``kl_accuracy_table`` checks against mpmath)."""
    _sizes(profile)
    ms = np.array(BESSEL_DIMENSIONS)
    grid = _bessel_grid()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    floor = math.log(FLOAT32_TINY)
    top = 10.0
    for i, kappa in enumerate(BESSEL_KAPPAS):
        scipy32 = grid["scipy32_log_ive"][:, i]
        left.plot(ms, grid["ours32_log_ive"][:, i], color=colors[i], label=f"κ = {kappa:g}")
        left.plot(ms, np.where(np.isfinite(scipy32), scipy32, np.nan), color=colors[i], ls="none", marker="x", ms=4)
        under = ~np.isfinite(scipy32)
        left.plot(ms[under], np.full(under.sum(), floor), color=colors[i], ls="none", marker="v", ms=4)
        exact, official, mine = grid["ours64_kl"][:, i], grid["official32_kl"][:, i], grid["ours32_kl"][:, i]
        with np.errstate(invalid="ignore"):
            right.plot(ms, np.maximum(np.abs(mine / exact - 1), 1e-10), color=colors[i], label=f"ours, κ = {kappa:g}")
            right.plot(ms, np.abs(official / exact - 1), color=colors[i], ls="--", marker="x", ms=3)
        bad = ~np.isfinite(official)
        right.plot(ms[bad], np.full(bad.sum(), top), color=colors[i], ls="none", marker="v", ms=4)
    left.axhline(floor, color=COLORS["reference"], ls=":", lw=1)
    left.set_ylim(-400, 20)
    left.set_xscale("log", base=2)
    left.set_xlabel("m   (order v = m/2 - 1)")
    left.set_ylabel("log ive(v, κ)")
    left.set_title("lines: ours; x: scipy, float32; ▽: scipy returns 0", fontsize=10)
    left.legend(fontsize=9)
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_ylim(1e-10, 3 * top)
    right.set_xlabel("m")
    right.set_ylabel("relative error of the KL")
    right.set_title("solid: ours; dashed: official; ▽: NaN or inf (float32)", fontsize=10)
    return fig


def underflow_onsets(profile: str) -> pd.DataFrame:
    """Per kappa, the smallest m of the grid where float32 scipy ive(m/2-1, kappa) is 0 and where the
    official float32 KL is not finite, and whether ours (float32) is finite on the whole grid."""
    _sizes(profile)
    grid = _bessel_grid()

    def first(mask):
        hits = np.array(BESSEL_DIMENSIONS)[mask]
        return int(hits[0]) if len(hits) else None

    rows = []
    for i, kappa in enumerate(BESSEL_KAPPAS):
        rows.append({
            "kappa": kappa,
            "first m with ive = 0 (float32)": first(~np.isfinite(grid["scipy32_log_ive"][:, i])),
            "first m with official KL NaN/inf (float32)": first(~np.isfinite(grid["official32_kl"][:, i])),
            "ours finite for every m": bool(np.isfinite(grid["ours32_kl"][:, i]).all()),
            "largest m": BESSEL_DIMENSIONS[-1],
        })
    return pd.DataFrame(rows).set_index("kappa")


def kl_accuracy_table(profile: str) -> pd.DataFrame:
    """KL at a few (m, kappa) points: mpmath (50 digits), ours and the official formula in float32
    and float64, and the relative errors against mpmath."""
    _sizes(profile)
    rows = []
    for m, kappa in MPMATH_POINTS:
        exact = mpmath_kl(m, kappa)
        row = {"m": m, "kappa": kappa, "mpmath": exact}
        for name, value in (
            ("ours float32", float(our_kl(m, kappa, torch.float32))),
            ("ours float64", float(our_kl(m, kappa, torch.float64))),
            ("official float32", float(official_kl(m, kappa, np.float32))),
            ("official float64", float(official_kl(m, kappa, np.float64))),
        ):
            row[f"{name} rel. error"] = abs(value - exact) / abs(exact) if np.isfinite(value) else value
        rows.append(row)
    return pd.DataFrame(rows).set_index(["m", "kappa"])


def kl_accuracy_display(profile: str) -> pd.DataFrame:
    """``kl_accuracy_table`` for the book: the exact KL with 6 significant digits and the relative
    errors in scientific notation, "not finite" where a route returned NaN or infinity."""
    table = kl_accuracy_table(profile)
    shown = table.map(lambda v: f"{v:.1e}" if np.isfinite(v) else "not finite")
    shown["mpmath"] = table["mpmath"].map(lambda v: f"{v:.6g}")
    return shown.rename(columns={"mpmath": "KL (mpmath, nats)"})
