"""``log I_v(x)`` and the ratio ``I_v(x) / I_{v-1}(x)`` with analytic gradients in ``x``.

Every result is built from two pieces, evaluated for all elements and selected with
``torch.where`` (no host synchronisation):

- the ascending series (``series.py``) gives ``log I_v(x)`` for ``x <= 5``;
- Debye's uniform expansion (``debye.py``) gives ``log I_w(x)`` and ``R_{w+1}(x)``, where
  ``R_v = I_v / I_{v-1}``, at an order ``w >= 20``, for every ``x > 0`` at once (it covers both
  ``x << w`` and ``x >> w``). The order ``mu`` is reached from ``w = mu + n``,
  ``n = max(1, ceil(20 - mu))``, by the backward recurrence

      R_o = x / (2 o + x R_{o+1}),    log I_mu = log I_w - sum_{o = mu+1}^{w} log R_o,

  which is stable downwards: an error in ``R_{o+1}`` reaches ``R_o`` multiplied by
  ``x R_{o+1} / (2 o + x R_{o+1}) < 1``. Taking at least one step yields the exact limits at
  ``x = 0``; taking no more than needed keeps the rounding of ``sum log R_o`` small.

Gradients are analytic (custom ``torch.autograd.Function``, first order only)::

    d/dx log I_v(x) = R_{v+1}(x) + v / x,

a sum of two positive terms, stable for all ``x``. The Riccati form
``R_v' = 1 - R_v^2 - (2v - 1) R_v / x`` loses about ``log10(x / v)`` digits for ``x >> v``
(its terms are ``O(1)``, the result is ``(2v - 1) / (2 x^2)``) and ``log10(4 v)`` digits for
``x -> 0``, so ``R'`` is instead propagated with the recurrence::

    R_o' = (2 o - x^2 R_{o+1}') / (2 o + x R_{o+1})^2,

started from the derivative of Debye's expansion of ``log R_{w+1}``, in which the leading
difference ``(s_{w+1} - s_w) / x`` is formed without cancellation.

Precision: float64 inputs are computed in float64. float32 inputs are computed in float32 except
the leading exponent ``s - w asinh(w / x)`` and the series prefactor, formed in float64 because
they cancel to ``log I_v ~ 0`` from terms of size ``~ v`` (a handful of element-wise ops).
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from .debye import DEBYE_MIN_ORDER, debye_sum, debye_sum_dt
from .series import SERIES_MAX_X, log_iv_series

MAX_STEPS = DEBYE_MIN_ORDER + 1  # orders mu >= -1
_WIDE = torch.float64


def _where(cond, a, b):
    """``torch.where``, or plain selection when ``cond`` is a Python bool (order is a number)."""
    if isinstance(cond, bool):
        return a if cond else b
    return torch.where(cond, a, b)


def _debye_start(w, x: torch.Tensor, need_log: bool, need_grad: bool):
    """``log I_w(x)`` (float64), ``R_{w+1}(x)``, ``R_{w+1}'(x)`` by Debye's expansion, ``x > 0``.

    With ``s_o = hypot(o, x)`` the exponents of orders ``w + 1`` and ``w`` differ by::

        s_{w+1} - s_w - asinh((w + 1) / x) - w (asinh((w + 1) / x) - asinh(w / x))
          = (2w + 1) / (s_w + s_{w+1}) - asinh((w + 1) / x)
            - w asinh((2w + 1) / ((w + 1) s_w + w s_{w+1})),

    free of the cancellation of the two ``O(x)`` exponents.
    """
    if not torch.is_tensor(w):  # torch.full, unlike as_tensor, needs no host-to-device copy
        w = torch.full((), w, dtype=x.dtype, device=x.device)
    w1 = w + 1
    s0, s1 = torch.hypot(w, x), torch.hypot(w1, x)
    orders = torch.stack([w, w1]).reshape((2,) + (1,) * (x.dim() - w.dim()) + tuple(w.shape))
    s = torch.stack([s0, s1])
    t = orders / s
    total = debye_sum(orders, t)
    log_r = (
        -0.25 * torch.log1p((2 * w + 1) / (s0 * s0))
        + (2 * w + 1) / (s0 + s1)
        - torch.asinh(w1 / x)
        - w * torch.asinh((2 * w + 1) / (w1 * s0 + w * s1))
        + torch.log(total[1] / total[0])
    )
    r = torch.exp(log_r)
    log_iv = None
    if need_log:
        ww, xw = w.to(_WIDE), x.to(_WIDE)
        sw = s0 if x.dtype == _WIDE else torch.hypot(ww, xw)
        eta = sw - ww * torch.asinh(ww / xw)
        log_iv = eta - 0.5 * torch.log(2 * math.pi * sw) + torch.log(total[0]).to(_WIDE)
    r_prime = None
    if need_grad:
        # d/dx log I_o = s_o / x - x / (2 s_o^2) + (dS/dt / S) dt/dx,  dt/dx = -o x / s_o^3.
        d_log_sum = -debye_sum_dt(orders, t) / total * orders * x / s**3
        d_log_r = (
            (2 * w + 1) / (x * (s0 + s1))
            + 0.5 * (2 * w + 1) * x / (s0 * s1) ** 2
            + d_log_sum[1]
            - d_log_sum[0]
        )
        r_prime = r * d_log_r
    return log_iv, r, r_prime


def _recurrence(mu, x: torch.Tensor, need_log: bool, need_grad: bool):
    """``log I_mu(x)`` (float64, for ``x > 0``), ``R_{mu+1}(x)`` and ``R_{mu+1}'(x)``; ``mu >= -1``.

    ``mu`` is a Python number or a tensor broadcasting with ``x``; for a number the order's
    region is known on the host and the unused recurrence steps are skipped.
    """
    if torch.is_tensor(mu):
        steps, max_steps = torch.ceil(DEBYE_MIN_ORDER - mu).clamp(min=1), MAX_STEPS
    else:
        steps = max_steps = max(1, math.ceil(DEBYE_MIN_ORDER - mu))
    log_iv, r, r_prime = _debye_start(mu + steps, torch.where(x > 0, x, 1.0), need_log, need_grad)
    product = torch.ones_like(x)  # prod R_o, accumulated in place
    for j in range(max_steps, 0, -1):
        o = mu + j
        if j > 1:  # o >= 1; steps >= j only for some elements of a tensor order
            active = steps >= j
            if isinstance(active, bool):  # a number order: every element steps, in place
                r_new = x * r
                r_new = torch.div(x, r_new.add_(2 * o), out=r_new)  # x / (2 o + x r), 0 at x = 0
            else:
                r_new = _where(active, 1 / (2 * o / x + r), r)
            if need_grad:
                rp_new = (2 * o - x * x * r_prime) / (2 * o + x * r) ** 2
                r_prime = _where(active, rp_new, r_prime)
            if need_log:
                product = product.mul_(_where(active, r_new, 1.0))
        else:  # o = mu + 1 >= 0; R_0 = 1 / R_1 since I_{-1} = I_1
            r_new = 1 / (_where(o > 0, 2 * o / x, 0.0) + r)
            if need_grad:
                rp_pos = (2 * o - x * x * r_prime) / (2 * o + x * r) ** 2
                r_prime = _where(o > 0, rp_pos, -r_prime / (r * r))
            if need_log:
                product = product * r_new
        r = r_new
    if need_log:
        log_iv = log_iv - torch.log(product).to(_WIDE)
    return log_iv, r, r_prime


def log_bessel_iv_and_ratio(v: float, x: torch.Tensor):
    """``(log I_v(x), R_{v+1}(x) = I_{v+1}(x) / I_v(x))`` from one Debye evaluation and one
    backward recurrence, with no autograd graph (for callers that supply their own gradients).

    Args:
        v: the order, a Python number ``>= 0``.
        x: a float64 tensor, ``x >= 0``.

    Returns:
        ``log I_v(x)`` in float64, valid for ``x > 0`` only (not finite at ``x = 0``: use the
        ascending series there), and ``R_{v+1}(x)`` for every ``x >= 0`` (``0`` at ``x = 0``), the
        same values as :func:`bessel_ratio` ``(v + 1, x)``.
    """
    with torch.no_grad():
        log_iv, ratio, _ = _recurrence(float(v), x, need_log=True, need_grad=False)
    return log_iv, ratio


class _LogBesselIv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, x):
        series = log_iv_series(v, x.clamp(max=SERIES_MAX_X), _WIDE)
        log_iv, r_next, _ = _recurrence(v, x, need_log=True, need_grad=False)
        if torch.is_tensor(v):
            ctx.save_for_backward(x, r_next, v)
        else:
            ctx.v = v
            ctx.save_for_backward(x, r_next)
        return torch.where(x <= SERIES_MAX_X, series, log_iv).to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, r_next, *v = ctx.saved_tensors
        v = v[0] if v else ctx.v
        return None, grad * (r_next + _where(v > 0, v / x, 0.0))


class _BesselRatio(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, x):
        _, r, r_prime = _recurrence(v - 1, x, need_log=False, need_grad=ctx.needs_input_grad[1])
        ctx.save_for_backward(r_prime)
        return r

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (r_prime,) = ctx.saved_tensors
        return None, grad * r_prime


def _prepare(name: str, v, x, validate: bool):
    """Cast to float32/float64 and broadcast ``x`` to the common shape; ``v`` keeps its shape
    (a Python number stays one)."""
    if not torch.is_tensor(x):
        x = torch.as_tensor(x, dtype=torch.get_default_dtype())
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    x_work = x.to(dtype)
    if torch.is_tensor(v):
        if v.requires_grad:
            raise NotImplementedError(
                f"{name}: the gradient with respect to the order v is not implemented; "
                "pass v without requires_grad (e.g. v.detach())"
            )
        v = v.to(dtype=dtype, device=x.device)
        x_work = x_work.expand(torch.broadcast_shapes(v.shape, x.shape))
        if validate and bool((v < 0).any()):
            raise ValueError(f"{name}: the order v must be >= 0")
    else:
        v = float(v)
        if v < 0:
            raise ValueError(f"{name}: the order v must be >= 0, got {v}")
    if validate and bool((x < 0).any()):
        raise ValueError(f"{name}: the argument x must be >= 0")
    return v, x_work, x.dtype


def log_bessel_iv(v, x, *, validate: bool = False) -> torch.Tensor:
    """``log I_v(x)``, the log of the modified Bessel function of the first kind.

    Args:
        v: order ``>= 0``, a number or a tensor broadcasting with ``x``; not differentiable.
        x: argument ``>= 0``, a float32 or float64 tensor (other floating dtypes are computed in
            float32 and cast back).
        validate: check ``v >= 0`` and ``x >= 0`` element-wise, at the cost of a host
            synchronisation; without it a negative tensor input gives an unspecified result.
            A negative Python-number ``v`` is always rejected.

    Accuracy is checked against mpmath for ``0 <= v <= 2048`` and ``0 <= x <= 1e8``: error
    ``<= rtol * max(1, |log I_v(x)|)`` with ``rtol = 1e-10`` (float64) and ``1e-5`` (float32).
    ``log I_0(0) = 0`` and ``log I_v(0) = -inf`` for ``v > 0``. The gradient in ``x`` is
    ``R_{v+1}(x) + v / x`` (``0`` at ``x = 0`` for ``v = 0``, ``+inf`` for ``v > 0``).
    """
    v, x, dtype = _prepare("log_bessel_iv", v, x, validate)
    return _LogBesselIv.apply(v, x).to(dtype)


def bessel_ratio(v, x, *, validate: bool = False) -> torch.Tensor:
    """``R_v(x) = I_v(x) / I_{v-1}(x)``, for instance the mean resultant length of a von
    Mises-Fisher distribution on ``S^{m-1}`` with ``v = m / 2`` and ``x = kappa``.

    Args are as for :func:`log_bessel_iv`. For ``v < 1`` the denominator has negative order
    ``v - 1`` (``I_{-1} = I_1``; ``I_{-1/2}(x) = sqrt(2 / (pi x)) cosh x``, so
    ``R_{1/2} = tanh``). At ``x = 0``: ``R_v(0) = 0`` and ``R_v'(0) = 1 / (2v)`` for ``v > 0``;
    ``R_0(0) = +inf`` and ``R_0'(0) = -inf`` (``R_0 = I_0 / I_1 ~ 2 / x``).
    Accuracy: relative error ``<= 1e-10`` (float64), ``1e-5`` (float32) on the box of
    :func:`log_bessel_iv`. The gradient is analytic (see the module docstring); its recurrence
    amplifies rounding by up to ``(v + 22) / |v - 1/2|`` for ``x >> v``, so float32 gradients are
    good to about ``1e-4`` relative near ``v = 1`` (float64: ``< 1e-12``). For ``v = 1/2``,
    ``R' = 1 / cosh^2 x`` is returned only to an absolute ``~ eps / x^2``.
    """
    v, x, dtype = _prepare("bessel_ratio", v, x, validate)
    return _BesselRatio.apply(v, x).to(dtype)
