"""``hvae_lib.special`` against mpmath at 50 significant digits.

Grid: orders ``V`` (integers, half-integers, ``m/2 - 1`` for the sphere dimensions ``m`` of the
paper, the Debye threshold 20 and its neighbours) times arguments ``X`` (0, log-spaced
``1e-8 .. 1e8``, the series boundary 5). ``X`` is rounded to float32 first, so float32 and float64
inputs are exactly the points where mpmath is evaluated.

Criteria (``rtol = 1e-10`` in float64, ``1e-5`` in float32):

- ``log I_v(x)``: ``|err| <= rtol * max(1, |log I_v(x)|)``, relative where ``|log I_v| >= 1``,
  absolute near its zero crossing;
- ``R_v(x) = I_v / I_{v-1}``: ``|err| <= rtol * R_v(x)``;
- ``d/dx log I_v`` (float64): ``|err| <= 1e-9 * |g|``;
- ``R_v'`` (float64): ``|err| <= 1e-9 * (|R_v'| + R_v / (1 + x)^2)``: ``R_v'`` crosses zero
  for ``v < 1/2`` and is exponentially small for ``v = 1/2`` (``R_{1/2} = tanh``), where the
  absolute floor is the size ``R_v / x^2`` of its terms; in float32 the same with ``5e-4``.
"""

from __future__ import annotations

import functools

import mpmath
import pytest
import torch

from hvae_lib.special import bessel_ratio, log_bessel_iv

DIMS = (2, 3, 4, 10, 100, 128, 1000, 4096)
V = sorted(
    {0.0, 0.5, 1.0, 1.5, 2.5, 7.0, 19.0, 19.5, 20.0, 20.5, 21.0, 63.5, 255.0, 1023.5, 2048.0}
    | {m / 2 - 1 for m in DIMS}
)
X = torch.tensor(
    sorted({0.0, 4.99, 5.0, 5.01} | {10.0 ** (k / 4) for k in range(-32, 33)}), dtype=torch.float32
).tolist()
RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def hankel_besseli(v, x):
    """``I_v(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k a_k(v) / x^k`` (DLMF 10.40.1), summed at 170
    digits until the terms drop below 1e-60 of the sum. For ``v <= 2049`` and ``x >= 1e4`` the
    terms stay below 1e110 and the truncation error is of order ``exp(-2x)``."""
    with mpmath.workdps(170):
        v, x = mpmath.mpf(v), mpmath.mpf(x)
        term = total = mpmath.mpf(1)
        k = 0
        while abs(term) > mpmath.mpf(10) ** -60 * abs(total):
            k += 1
            term *= -(4 * v**2 - (2 * k - 1) ** 2) / (8 * k * x)
            total += term
        return mpmath.exp(x) / mpmath.sqrt(2 * mpmath.pi * x) * total


def besseli(v, x):
    try:
        return mpmath.besseli(v, x)
    except mpmath.libmp.NoConvergence:  # v ~ 2000, x ~ 5e4: its series would need ~x terms
        return hankel_besseli(v, x)


@functools.lru_cache(maxsize=None)
def reference(v: float, x: float) -> dict[str, float]:
    """log I_v, R_v, R_v' and d/dx log I_v at (v, x) with mpmath."""
    with mpmath.workdps(50):
        v_, x_ = mpmath.mpf(v), mpmath.mpf(x)
        if x == 0:
            r = mpmath.inf if v == 0 else mpmath.mpf(0)
            return {"log_iv": 0.0 if v == 0 else -float("inf"), "ratio": float(r)}
        i_prev, i_v, i_next = (besseli(v_ + k, x_) for k in (-1, 0, 1))
        r = i_v / i_prev
        return {
            "log_iv": float(mpmath.log(i_v)),
            "ratio": float(r),
            "ratio_grad": float(1 - r**2 - (2 * v_ - 1) * r / x_),
            "log_iv_grad": float(i_next / i_v + v_ / x_),
        }


def grid(dtype):
    v, x = torch.meshgrid(
        torch.tensor(V, dtype=torch.float64), torch.tensor(X, dtype=torch.float64), indexing="ij"
    )
    ref = {k: torch.tensor([[reference(a, b).get(k, float("nan")) for b in X] for a in V],
                           dtype=torch.float64)
           for k in ("log_iv", "ratio", "ratio_grad", "log_iv_grad")}
    return v.to(dtype), x.to(dtype), ref


def max_error(dtype):
    """Max of |err| / allowed-scale for both functions (<= rtol passes)."""
    v, x, ref = grid(dtype)
    out = {}
    log_iv = log_bessel_iv(v, x).double()
    finite = torch.isfinite(ref["log_iv"])
    assert torch.equal(log_iv[~finite], ref["log_iv"][~finite])
    err = (log_iv - ref["log_iv"]).abs() / ref["log_iv"].abs().clamp(min=1)
    out["log_iv"] = err[finite].max().item()
    ratio = bessel_ratio(v, x).double()
    finite = torch.isfinite(ref["ratio"]) & (ref["ratio"] > 0)
    assert torch.equal(ratio[~finite], ref["ratio"][~finite])
    out["ratio"] = ((ratio - ref["ratio"]).abs() / ref["ratio"])[finite].max().item()
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_forward_matches_mpmath(dtype):
    err = max_error(dtype)
    assert err["log_iv"] <= RTOL[dtype], err
    assert err["ratio"] <= RTOL[dtype], err


def autograd_grads(dtype):
    v, x, ref = grid(dtype)
    x = x.clone().requires_grad_()
    (g_log,) = torch.autograd.grad(log_bessel_iv(v, x).sum(), x)
    (g_ratio,) = torch.autograd.grad(bessel_ratio(v, x).sum(), x)
    return x.detach(), g_log, g_ratio, ref


def test_gradients_match_mpmath_float64():
    x, g_log, g_ratio, ref = autograd_grads(torch.float64)
    pos = x > 0
    err = (g_log - ref["log_iv_grad"]).abs() / ref["log_iv_grad"].abs()
    assert err[pos].max() <= 1e-9, err[pos].max()
    scale = ref["ratio_grad"].abs() + ref["ratio"] / (1 + x) ** 2
    err = (g_ratio - ref["ratio_grad"]).abs() / scale
    assert err[pos].max() <= 1e-9, err[pos].max()


def test_gradients_at_zero():
    v = torch.tensor([0.0, 0.5, 1.0, 63.5], dtype=torch.float64)
    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(log_bessel_iv(v, x).sum(), x)
    assert g.tolist() == [0.0, float("inf"), float("inf"), float("inf")]
    (g,) = torch.autograd.grad(bessel_ratio(v, x).sum(), x)
    assert g[0] == -float("inf")
    torch.testing.assert_close(g[1:], 1 / (2 * v[1:]), rtol=1e-14, atol=0)


@pytest.mark.parametrize("fn", [log_bessel_iv, bessel_ratio])
@pytest.mark.parametrize("v", [0.0, 0.5, 1.0, 4.0, 19.5, 20.0, 63.5, 2047.0])
def test_gradcheck(fn, v):
    gen = torch.Generator().manual_seed(0)
    x = torch.cat([torch.rand(4, generator=gen, dtype=torch.float64) * 10 + 0.01,
                   torch.tensor([4.999, 5.001, 150.0, 3000.0], dtype=torch.float64)])
    assert torch.autograd.gradcheck(lambda x: fn(v, x), (x.requires_grad_(),))


def test_float32_finite_forward_and_backward():
    """No NaN or inf on the grid, forward or backward, besides the documented ``x = 0`` limits."""
    x, g_log, g_ratio, ref = autograd_grads(torch.float32)
    v, _, _ = grid(torch.float32)
    log_iv, ratio = log_bessel_iv(v, x), bessel_ratio(v, x)
    at_zero_limit = (x == 0) & (v > 0)
    assert torch.isfinite(log_iv[~at_zero_limit]).all()
    assert (log_iv[at_zero_limit] == -float("inf")).all()
    assert torch.isfinite(ratio[~((x == 0) & (v == 0))]).all()
    assert torch.isfinite(g_log[x > 0]).all() and torch.isfinite(g_ratio[x > 0]).all()
    err = (g_log.double() - ref["log_iv_grad"]).abs() / ref["log_iv_grad"].abs()
    assert err[x > 0].max() <= 1e-5, err[x > 0].max()
    # The R' recurrence amplifies rounding by up to (v + 22) / (v - 1/2) for x >> v: ~1e-4.
    scale = ref["ratio_grad"].abs() + ref["ratio"] / (1 + x.double()) ** 2
    err = (g_ratio.double() - ref["ratio_grad"]).abs() / scale
    assert err[x > 0].max() <= 5e-4, err[x > 0].max()


def test_float32_random_points():
    """Random (v, x) in the box, float32 against float64: catches region seams off the grid."""
    gen = torch.Generator().manual_seed(1)
    v = torch.rand(20000, generator=gen) * 2048
    v[:10000] = v[:10000] / 64
    x = 10 ** (torch.rand(20000, generator=gen) * 16 - 8)
    x64 = x.double()
    for fn, floor in ((log_bessel_iv, 1.0), (bessel_ratio, 0.0)):
        ref = fn(v.double(), x64)
        err = (fn(v, x).double() - ref).abs() / ref.abs().clamp(min=floor)
        assert err.max() <= 1e-5, (fn.__name__, err.max())


def test_float64_random_points_vs_mpmath():
    """Off-grid points, uniform in log x and in v (half of them below the Debye threshold)."""
    gen = torch.Generator().manual_seed(2)
    v = torch.cat([torch.rand(60, generator=gen) * 25, torch.rand(60, generator=gen) * 2048])
    x = 10 ** (torch.rand(120, generator=gen) * 12 - 6)
    v, x = v.double(), x.double()
    ref = {k: torch.tensor([reference(a, b)[k] for a, b in zip(v.tolist(), x.tolist())],
                           dtype=torch.float64) for k in ("log_iv", "ratio")}
    err = (log_bessel_iv(v, x) - ref["log_iv"]).abs() / ref["log_iv"].abs().clamp(min=1)
    assert err.max() <= 1e-10, err.max()
    err = (bessel_ratio(v, x) - ref["ratio"]).abs() / ref["ratio"]
    assert err.max() <= 1e-10, err.max()


def test_official_code_float32_underflow_regression():
    """The official implementation's ``ive(63, 1.7)`` underflows in float32; ``log I_63(1.7)``
    (about -211) is finite here and matches mpmath."""
    out = log_bessel_iv(63.0, torch.tensor(1.7, dtype=torch.float32))
    with mpmath.workdps(50):
        ref = float(mpmath.log(mpmath.besseli(63, mpmath.mpf(float(torch.tensor(1.7))))))
    assert torch.isfinite(out)
    assert abs(out.item() - ref) <= 1e-5 * abs(ref)


def test_hankel_reference_agrees_with_mpmath_besseli():
    with mpmath.workdps(30):
        direct = mpmath.besseli(2047, mpmath.mpf(20000), maxterms=10**6)
    assert abs(hankel_besseli(2047, 20000.0) / direct - 1) < 1e-25


def test_scalar_and_tensor_orders_agree_and_broadcast():
    x = torch.logspace(-3, 4, 50, dtype=torch.float64)
    v = torch.tensor([[0.0], [3.5], [20.0], [100.0]], dtype=torch.float64)
    for fn in (log_bessel_iv, bessel_ratio):
        out = fn(v, x)
        assert out.shape == (4, 50)
        for i, vi in enumerate(v[:, 0].tolist()):
            torch.testing.assert_close(out[i], fn(vi, x), rtol=1e-14, atol=1e-14)
    x = x.clone().requires_grad_()
    log_bessel_iv(v, x).sum().backward()
    assert x.grad.shape == x.shape


def test_dtypes_are_preserved():
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        x = torch.tensor([0.5, 50.0], dtype=dtype)
        assert log_bessel_iv(2.5, x).dtype == dtype and bessel_ratio(2.5, x).dtype == dtype


def test_validation():
    x = torch.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="order v"):
        log_bessel_iv(-1.0, x)
    with pytest.raises(ValueError, match="order v"):
        bessel_ratio(torch.tensor([-0.5, 1.0]), x, validate=True)
    with pytest.raises(ValueError, match="argument x"):
        log_bessel_iv(1.0, -x, validate=True)
    with pytest.raises(NotImplementedError, match="order v"):
        bessel_ratio(torch.tensor(2.0, requires_grad=True), x)
    x = x.requires_grad_()
    (g,) = torch.autograd.grad(log_bessel_iv(1.0, x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_without_host_sync():
    v, x, _ = grid(torch.float32)
    expected = (log_bessel_iv(v, x), bessel_ratio(v, x))
    v, x = v.cuda(), x.cuda().requires_grad_()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = (log_bessel_iv(v, x), bessel_ratio(v, x), log_bessel_iv(2.5, x), bessel_ratio(2.5, x))
        torch.autograd.grad(sum(o.sum() for o in out), x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    for cpu, gpu in zip(expected, out):
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("v", [0.0, 0.5, 4.5, 19.5, 20.0, 63.5, 511.0])
def test_log_bessel_iv_and_ratio_matches_the_separate_functions(v):
    """The one-pass (log I_v, R_(v+1)) of the KL agrees with log_bessel_iv (outside its series
    range, x > 5) and bessel_ratio(v + 1) to rounding, and R_(v+1)(0) = 0."""
    from hvae_lib.special.bessel import log_bessel_iv_and_ratio

    x = torch.cat((torch.zeros(1, dtype=torch.float64), torch.logspace(-3, 8, 200, dtype=torch.float64)))
    log_iv, ratio = log_bessel_iv_and_ratio(v, x)
    assert log_iv.dtype == torch.float64 and ratio.dtype == torch.float64
    torch.testing.assert_close(ratio, bessel_ratio(v + 1, x), rtol=1e-14, atol=0)
    above = x > 5
    torch.testing.assert_close(log_iv[above], log_bessel_iv(v, x[above]), rtol=1e-14, atol=1e-14)
    assert ratio[0] == 0
