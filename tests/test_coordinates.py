"""Hyperspherical coordinates against the PyPI package ``hyperspherical`` (an independent
implementation), the authors' O(n^2) masked cosine formula, finite differences, and the moments
of the cosines under N(0, I)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hyperspherical import cartesian2spherical, spherical2cartesian

from hvae_lib.coordinates import from_hyperspherical, hyperspherical_cosines, to_hyperspherical

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def circular_gap(a, b):
    """|a - b| measured around the circle."""
    gap = np.remainder(a - b, 2 * np.pi)
    return np.minimum(gap, 2 * np.pi - gap)


def oracle_to(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(r, phi) from ``hyperspherical``: at n = 3 it reorders the input to (x3, x1, x2), and its
    last angle lies in (-pi, pi]."""
    n = x.shape[1]
    out = cartesian2spherical(x[:, [1, 2, 0]] if n == 3 else x)
    return out[:, 0], out[:, 1:]


def oracle_from(r: np.ndarray, phi: np.ndarray) -> np.ndarray:
    out = spherical2cartesian(np.column_stack([r, phi]))
    return out[:, [2, 0, 1]] if phi.shape[1] == 2 else out


def masked_cosines(x: torch.Tensor, eps: float) -> torch.Tensor:
    """The authors' transform: an upper-triangular mask over x^2, O(B n^2)."""
    n = x.shape[-1]
    mask = torch.ones(n, n, dtype=x.dtype).triu()
    denominator = ((x.square().unsqueeze(-2) * mask).sum(-1) + eps).sqrt()
    return (x / denominator)[..., :-1]


@pytest.mark.parametrize("n", [2, 3, 4, 7, 50])
def test_angles_and_radius_match_the_hyperspherical_package(n):
    x = torch.randn(500, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    r, phi = to_hyperspherical(x)
    r_ref, phi_ref = oracle_to(x.numpy())
    np.testing.assert_allclose(r.numpy(), r_ref, rtol=1e-14)
    np.testing.assert_allclose(phi[:, :-1].numpy(), phi_ref[:, :-1], atol=1e-13)
    assert circular_gap(phi[:, -1].numpy(), phi_ref[:, -1]).max() < 1e-12  # the oracle's half-angle formula
    np.testing.assert_allclose(from_hyperspherical(r, phi).numpy(), oracle_from(r_ref, phi_ref), atol=1e-13)


@pytest.mark.parametrize("n", [2, 3, 10, 128, 1024])
def test_round_trips_to_1e_12_in_float64(n):
    generator = torch.Generator().manual_seed(n)
    x = torch.randn(200, n, dtype=torch.float64, generator=generator) * torch.rand(200, 1, dtype=torch.float64, generator=generator) * 10
    r, phi = to_hyperspherical(x)
    back = from_hyperspherical(r, phi)
    assert ((back - x).norm(dim=-1) / x.norm(dim=-1)).max() < 1e-12

    # Polar angles in [0.2 pi, 0.8 pi]: with angles uniform on [0, pi] the product of 1023 sines
    # is about 2^-1023, and the last coordinates underflow float64, so they carry no angle back.
    polar = (0.2 + 0.6 * torch.rand(200, n - 1, dtype=torch.float64, generator=generator)) * math.pi
    polar[:, -1] = 2 * math.pi * torch.rand(200, dtype=torch.float64, generator=generator)
    r2, phi2 = to_hyperspherical(from_hyperspherical(torch.ones(200, dtype=torch.float64), polar))
    assert (r2 - 1).abs().max() < 1e-12
    if n > 2:  # n = 2 has only the azimuth
        assert (phi2[:, :-1] - polar[:, :-1]).abs().max() < 1e-12
    assert circular_gap(phi2[:, -1].numpy(), polar[:, -1].numpy()).max() < 1e-12


@pytest.mark.parametrize("n", [2, 3, 5, 64])
def test_angles_lie_in_their_ranges(n):
    x = torch.randn(4000, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    _, phi = to_hyperspherical(x)
    assert ((phi[:, :-1] >= 0) & (phi[:, :-1] <= math.pi)).all()
    assert ((phi[:, -1] >= 0) & (phi[:, -1] < 2 * math.pi)).all()


@pytest.mark.parametrize("eps", [0.0, 1e-3])
@pytest.mark.parametrize("n", [2, 3, 16, 128])
def test_cosines_match_the_masked_formula_and_the_angles(n, eps):
    x = torch.randn(300, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n)) * 0.05
    cosines = hyperspherical_cosines(x, eps)
    torch.testing.assert_close(cosines, masked_cosines(x, eps), rtol=1e-12, atol=1e-14)
    _, phi = to_hyperspherical(x, eps)
    torch.testing.assert_close(phi.cos(), cosines, rtol=0, atol=1e-12)


def test_eps_moves_the_cosines_as_the_reference_says():
    """The reference measured eps = 1e-3 moving cosines of 0.05 N(0, I_128) rows by up to 0.85."""
    x = 0.05 * torch.randn(2000, 128, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    shift = (hyperspherical_cosines(x, 1e-3) - hyperspherical_cosines(x)).abs().max()
    assert 0.6 < shift < 1.0


DEGENERATE = {
    # name: (row, expected angles (None: not checked beyond finiteness), expected cosines at eps 0)
    "x_n = 0, x_(n-1) > 0": ([1.0, 2.0, 0.0], [math.acos(1 / math.sqrt(5)), 0.0], [1 / math.sqrt(5), 1.0]),
    "x_n = 0, x_(n-1) < 0": ([1.0, -2.0, 0.0], [math.acos(1 / math.sqrt(5)), math.pi], [1 / math.sqrt(5), -1.0]),
    "x_n = -0.0": ([1.0, 2.0, -0.0], [math.acos(1 / math.sqrt(5)), 0.0], [1 / math.sqrt(5), 1.0]),
    "trailing zeros": ([3.0, -4.0, 0.0, 0.0, 0.0], [math.acos(0.6), math.pi, 0.0, 0.0], [0.6, -1.0, 1.0, 1.0]),
    "one non-zero, negative": ([-2.0, 0.0, 0.0, 0.0], [math.pi, 0.0, 0.0], [-1.0, 1.0, 1.0]),
    "zero vector": ([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
    "zero vector, n = 2": ([0.0, 0.0], [0.0], [1.0]),
}


@pytest.mark.parametrize("name", list(DEGENERATE))
def test_degenerate_rows_follow_the_stated_convention_without_nan(name):
    row, angles, cosines = DEGENERATE[name]
    x = torch.tensor([row], dtype=torch.float64, requires_grad=True)
    r, phi = to_hyperspherical(x)
    torch.testing.assert_close(phi[0], torch.tensor(angles, dtype=torch.float64), rtol=0, atol=1e-15)
    torch.testing.assert_close(hyperspherical_cosines(x)[0], torch.tensor(cosines, dtype=torch.float64), rtol=0, atol=1e-15)
    torch.testing.assert_close(from_hyperspherical(r, phi), x.detach(), rtol=0, atol=1e-15)
    for eps in (0.0, 1e-3):
        r, phi = to_hyperspherical(x, eps)
        (gx,) = torch.autograd.grad(r.sum() + phi.sum() + hyperspherical_cosines(x, eps).sum(), x)
        assert torch.isfinite(gx).all() and torch.isfinite(phi).all()
    phi_leaf = phi.detach().requires_grad_()
    (gphi,) = torch.autograd.grad(from_hyperspherical(r.detach(), phi_leaf).sum(), phi_leaf)
    assert torch.isfinite(gphi).all()


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_gradients_match_finite_differences(eps):
    x = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: to_hyperspherical(v, eps), (x,))
    assert torch.autograd.gradcheck(lambda v: hyperspherical_cosines(v, eps), (x,))
    r, phi = to_hyperspherical(x.detach())
    assert torch.autograd.gradcheck(from_hyperspherical, (r.requires_grad_(), phi.requires_grad_()))


def test_cosine_moments_under_the_standard_normal():
    """E cos phi_k = 0 and sd cos phi_k = 1/sqrt(n-k+1) under N(0, I_n), n = 32, 100k rows
    (seeded): means within 4 standard errors, sds within 1%."""
    n, rows = 32, 100_000
    cosines = hyperspherical_cosines(torch.randn(rows, n, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))
    sd = 1 / torch.arange(n, 1, -1, dtype=torch.float64).sqrt()  # k = 1..n-1 -> 1/sqrt(n-k+1)
    assert (cosines.mean(0).abs() < 4 * sd / math.sqrt(rows)).all()
    torch.testing.assert_close(cosines.std(0), sd, rtol=0.01, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_batched_over_leading_dimensions_in_both_precisions(device):
    x = torch.randn(2, 3, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(4)).to(device)
    r, phi = to_hyperspherical(x)
    assert r.shape == (2, 3) and phi.shape == (2, 3, 8)
    flat_r, flat_phi = to_hyperspherical(x.reshape(6, 9))
    torch.testing.assert_close(phi.reshape(6, 8), flat_phi)
    r32, phi32 = to_hyperspherical(x.float())
    assert phi32.dtype == torch.float32
    torch.testing.assert_close(from_hyperspherical(r32, phi32), x.float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(hyperspherical_cosines(x.float()), hyperspherical_cosines(x).float(), rtol=1e-5, atol=1e-6)


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="n >= 2"):
        to_hyperspherical(torch.zeros(4, 1))
    with pytest.raises(TypeError, match="floating-point"):
        hyperspherical_cosines(torch.zeros(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="eps"):
        hyperspherical_cosines(torch.zeros(4, 3), eps=-1.0)
    with pytest.raises(ValueError, match="n - 1 >= 1"):
        from_hyperspherical(torch.ones(4), torch.zeros(4, 0))
