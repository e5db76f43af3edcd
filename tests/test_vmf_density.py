"""``VonMisesFisher.log_prob``, ``entropy`` and ``kl_divergence(VonMisesFisher, HypersphericalUniform)``
against independent references, and argument validation.

References and tolerances:
- mpmath at 50 digits (``_sphere_reference``) for log C_m, the entropy, the KL and its gradient
  kappa A_m': relative error <= 1e-9 in float64 (1e-5 in float32), plus 4 ulps of kappa in
  float64 for values that contain log I_v(kappa) ~ kappa (known only to an ulp of kappa: 6e-8 at
  kappa = 1e8, 2e-9 relative to the KL there);
- ``scipy.stats.vonmises_fisher.logpdf`` / ``entropy`` where scipy is finite: 1e-9 relative;
- normalisation: area * E_uniform[q(z)] = 1 within 5 Monte Carlo standard errors;
- central finite differences of the KL in float64 (h = 1e-5 kappa, kappa <= 2000 where the
  rounding of KL(kappa +- h) stays far below the difference): 1e-6 relative.
"""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import kl_divergence

from hvae_lib.distributions import HypersphericalUniform, VonMisesFisher, log_sphere_area, uniform_direction

from ._sphere_reference import vmf_reference

RTOL64 = 1e-9
ULPS64 = 4 * torch.finfo(torch.float64).eps
KL_GRID = [
    (m, kappa)
    for m in (2, 3, 4, 10, 100, 128, 1000, 4096)
    for kappa in (1e-6, 1e-3, 0.1, 1.0, 1.7, 10.0, 1e3, 1e5, 1e8)
    if (m, kappa) != (4096, 1e5)  # mpmath's Bessel series is too slow there
]  # m = 128, kappa = 1.7: where the official code's float32 ive(63, 1.7) underflows


def _unit(x):
    return x / x.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("m", [2, 3, 5, 10])
@pytest.mark.parametrize("kappa", [0.0, 0.5, 2.0, 5.0])
def test_log_prob_integrates_to_one(m, kappa):
    torch.manual_seed(m)
    n = 200_000
    z = uniform_direction((n,), m, torch.float64)
    mu = _unit(torch.arange(1.0, m + 1, dtype=torch.float64))
    weights = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64)).log_prob(z).exp() * math.exp(log_sphere_area(m))
    assert abs(weights.mean().item() - 1) < 5 * weights.std().item() / n**0.5 + 1e-12


@pytest.mark.parametrize("m,kappa", [(m, k) for m, k in KL_GRID if k >= 1e-3])
def test_log_prob_and_entropy_against_mpmath(m, kappa):
    torch.manual_seed(0)
    mu = _unit(torch.randn(m, dtype=torch.float64))
    q = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64))
    z = torch.cat((q.sample((8,)), uniform_direction((8,), m, torch.float64)))
    _, log_c, kl, _ = vmf_reference(m, kappa)
    # Reference on the sphere: log C + kappa mu.z, with mu.z - 1 = -|z - mu|^2 / 2 exactly for unit vectors.
    expected = log_c + kappa - kappa * (z - mu).pow(2).sum(-1).numpy() / 2
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected, rtol=RTOL64, atol=RTOL64 * (abs(log_c) + kappa))
    entropy = log_sphere_area(m) - kl
    assert abs(q.entropy().item() - entropy) <= RTOL64 * max(1.0, abs(entropy)) + ULPS64 * kappa


@pytest.mark.parametrize("m", [2, 3, 4, 10, 100])
@pytest.mark.parametrize("kappa", [1e-3, 1.0, 10.0, 1e3])
def test_log_prob_and_entropy_against_scipy(m, kappa):
    torch.manual_seed(1)
    mu = _unit(torch.randn(m, dtype=torch.float64))
    q = VonMisesFisher(mu, torch.tensor(kappa, dtype=torch.float64))
    z = torch.cat((q.sample((16,)), uniform_direction((16,), m, torch.float64)))
    reference = scipy.stats.vonmises_fisher(mu.numpy(), kappa)
    expected = reference.logpdf(z.numpy())
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected, rtol=RTOL64, atol=RTOL64 * kappa)
    assert q.entropy().item() == pytest.approx(reference.entropy(), rel=RTOL64, abs=RTOL64)


@pytest.mark.parametrize("m", [2, 3, 17, 1000])
def test_log_prob_at_kappa_zero_is_uniform(m):
    mu = _unit(torch.ones(m, dtype=torch.float64))
    z = uniform_direction((5,), m, torch.float64)
    q = VonMisesFisher(mu, torch.tensor([0.0, 1e-300], dtype=torch.float64))
    expected = -log_sphere_area(m)
    assert torch.allclose(q.log_prob(z[:, None]), torch.tensor(expected, dtype=torch.float64), rtol=1e-14, atol=0)
    assert torch.allclose(q.entropy(), torch.tensor(-expected, dtype=torch.float64), rtol=1e-14, atol=0)


@pytest.mark.parametrize("m", [3, 10, 100])
def test_log_prob_float32_at_kappa_1e8(m):
    """Draws in float64, rounded to float32: the float32 log density must follow the float64 one.
    Rounding moves z by ~6e-8 per entry, which changes kappa mu.z by up to ~kappa * 6e-8 * |z - mu|
    ~ 1e-3 * sqrt(m): tolerance 2e-2 * sqrt(m) absolute (the plain kappa (mu.z) form is off by ~10)."""
    torch.manual_seed(m)
    mu64 = _unit(torch.randn(m, dtype=torch.float64))
    mu32 = mu64.float()
    mu64 = mu32.double() / mu32.double().norm()
    z64 = VonMisesFisher(mu64, torch.tensor(1e8, dtype=torch.float64)).sample((256,))
    lp64 = VonMisesFisher(mu64, torch.tensor(1e8, dtype=torch.float64)).log_prob(z64)
    lp32 = VonMisesFisher(mu32, torch.tensor(1e8)).log_prob(z64.float())
    assert torch.isfinite(lp32).all()
    assert (lp32.double() - lp64).abs().max().item() < 2e-2 * m**0.5


@pytest.mark.parametrize("m,kappa", KL_GRID)
def test_kl_value_and_gradient_against_mpmath(m, kappa):
    for dtype, rtol, ulps in ((torch.float64, RTOL64, ULPS64), (torch.float32, 1e-5, 0.0)):
        kappa_t = torch.tensor(kappa, dtype=dtype)
        kappa_t.requires_grad_()
        mu = torch.zeros(m, dtype=dtype)
        mu[-1] = 1
        kl = kl_divergence(VonMisesFisher(mu, kappa_t), HypersphericalUniform(m, dtype=dtype))
        kl.backward()
        # float32 kappa is the float32 rounding of kappa: compare at the rounded point.
        _, _, kl_ref, dkl_ref = vmf_reference(m, kappa_t.item())
        assert kl.dtype == dtype
        assert abs(kl.item() - kl_ref) <= rtol * abs(kl_ref) + ulps * kappa
        assert abs(kappa_t.grad.item() - dkl_ref) <= rtol * abs(dkl_ref)


@pytest.mark.parametrize("m", [2, 3, 10, 129, 1024])
def test_kl_across_regime_boundaries(m):
    """Both sides of the switches inside the library: the series for S_v at kappa = 2 sqrt(v+1),
    the expansions of kappa A_m' at kappa = 1e-3 and kappa = max(30 m, 100)."""
    for boundary in (2 * (m / 2) ** 0.5, 1e-3, max(30.0 * m, 100.0)):
        for kappa in (boundary * (1 - 1e-6), boundary * (1 + 1e-6)):
            kappa_t = torch.tensor(kappa, dtype=torch.float64, requires_grad=True)
            kl = kl_divergence(VonMisesFisher(torch.eye(m, dtype=torch.float64)[0], kappa_t), HypersphericalUniform(m))
            kl.backward()
            _, _, kl_ref, dkl_ref = vmf_reference(m, kappa)
            assert abs(kl.item() - kl_ref) <= RTOL64 * abs(kl_ref)
            assert abs(kappa_t.grad.item() - dkl_ref) <= RTOL64 * abs(dkl_ref)


@pytest.mark.parametrize("m", [2, 3, 10, 4096])
def test_kl_small_kappa_asymptotics(m):
    """KL = kappa^2/(2m) (1 + O(kappa^2)) and dKL/dkappa = kappa/m (1 + O(kappa^2)): at kappa = 1e-6
    both hold to 1e-9 relative."""
    kappa = torch.tensor([1e-6, 0.0], dtype=torch.float64, requires_grad=True)
    kl = kl_divergence(VonMisesFisher(torch.eye(m, dtype=torch.float64)[0], kappa), HypersphericalUniform(m))
    kl.sum().backward()
    assert kl[0].item() == pytest.approx(1e-12 / (2 * m), rel=1e-9)
    assert kappa.grad[0].item() == pytest.approx(1e-6 / m, rel=1e-9)
    assert kl[1].item() == 0 and kappa.grad[1].item() == 0


@pytest.mark.parametrize("m", [2, 5, 64, 1000])
@pytest.mark.parametrize("kappa", [0.01, 1.0, 37.0, 2000.0])
def test_kl_gradient_against_finite_differences(m, kappa):
    h = 1e-5 * kappa
    kappa_t = torch.tensor([kappa - h, kappa, kappa + h], dtype=torch.float64, requires_grad=True)
    kl = kl_divergence(VonMisesFisher(torch.eye(m, dtype=torch.float64)[1], kappa_t), HypersphericalUniform(m))
    kl.sum().backward()
    finite_difference = (kl[2] - kl[0]).item() / (2 * h)
    assert kappa_t.grad[1].item() == pytest.approx(finite_difference, rel=1e-6)


def test_entropy_gradient_is_minus_kl_gradient():
    kappa = torch.tensor([0.3, 30.0, 3e7], dtype=torch.float64, requires_grad=True)
    q = VonMisesFisher(torch.eye(7, dtype=torch.float64)[0], kappa)
    (entropy_grad,) = torch.autograd.grad(q.entropy().sum(), kappa)
    (kl_grad,) = torch.autograd.grad(kl_divergence(q, HypersphericalUniform(7)).sum(), kappa)
    assert torch.allclose(entropy_grad, -kl_grad, rtol=1e-14, atol=0)


def test_kl_dimension_mismatch():
    q = VonMisesFisher(torch.tensor([0.0, 0.0, 1.0]), 2.0)
    with pytest.raises(ValueError, match="dim=4"):
        kl_divergence(q, HypersphericalUniform(4))


def test_validate_args_names_the_argument():
    good = torch.tensor([0.6, 0.8, 0.0])
    with pytest.raises(ValueError, match="loc"):
        VonMisesFisher(torch.tensor([1.0, 1.0, 0.0]), 1.0, validate_args=True)
    with pytest.raises(ValueError, match="concentration"):
        VonMisesFisher(good, -1.0, validate_args=True)
    with pytest.raises(ValueError, match="concentration"):
        VonMisesFisher(good, float("nan"), validate_args=True)
    with pytest.raises(ValueError, match="loc"):
        VonMisesFisher(torch.tensor([1.0]), 1.0, validate_args=True)
    with pytest.raises(ValueError, match="loc"):
        VonMisesFisher(torch.tensor([float("nan"), 0.0]), 1.0, validate_args=True)
    q = VonMisesFisher(good, 1.0, validate_args=True)
    with pytest.raises(ValueError):
        q.log_prob(torch.tensor([1.0, 1.0, 0.0]))
    VonMisesFisher(good, 0.0, validate_args=True).log_prob(good)


@pytest.mark.parametrize("m", [2, 3, 5, 11, 129])
def test_kl_to_uniform_against_mpmath_around_the_series_boundary(m):
    """KL(vMF || uniform) = kappa A_m - S_(m/2-1) and its gradient kappa A_m' against mpmath
    (40 digits) for kappa in [0.5, 30], across the switch from the series to the log-Bessel form."""
    import mpmath

    from hvae_lib.distributions.vmf_functions import kl_to_uniform

    mpmath.mp.dps = 40
    kappa = torch.linspace(0.5, 30, 60, dtype=torch.float64).requires_grad_()
    kl = kl_to_uniform(m, kappa)
    kl.sum().backward()
    v = mpmath.mpf(m) / 2 - 1
    for k, value, grad in zip(kappa.tolist(), kl.tolist(), kappa.grad.tolist()):
        k = mpmath.mpf(k)
        a = mpmath.besseli(v + 1, k) / mpmath.besseli(v, k)
        ref = k * a - mpmath.log(mpmath.gamma(v + 1) * (2 / k) ** v * mpmath.besseli(v, k))
        ref_grad = k * (1 - a * a) - (m - 1) * a
        assert abs(value - ref) <= 1e-13 * abs(ref)
        assert abs(grad - ref_grad) <= 1e-11 * abs(ref_grad)
