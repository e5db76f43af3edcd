"""Debye's uniform asymptotic expansion of ``I_v(x)`` for large order.

With ``s = sqrt(v^2 + x^2)`` and ``t = v / s`` (DLMF 10.41.3, Olver 1997 ch. 10 §7)::

    I_v(x) ~ exp(eta) / sqrt(2 pi s) * S,    eta = s - v asinh(v / x),    S = sum_k u_k(t) / v^k,

uniformly in ``x > 0`` as ``v -> inf``. The polynomials follow from ``u_0 = 1`` and::

    u_{k+1}(t) = t^2 (1 - t^2) u_k'(t) / 2 + 1/8 int_0^t (1 - 5 r^2) u_k(r) dr.

``u_k(t) = t^k P_k(t^2)`` with ``P_k`` of degree ``k``. Over ``t`` in ``[0, 1]``,
``max |u_11| / v^11 < 2e-14`` for ``v >= 20``, so the terms ``k <= 10`` give float64 accuracy
from order ``DEBYE_MIN_ORDER = 20`` on; rounding stays harmless since
``sum_j |coef of P_k| / 20^k < 1e-3`` for every ``k``.
"""

from __future__ import annotations

from fractions import Fraction

import torch

DEBYE_MIN_ORDER = 20
NUM_TERMS = 10


def _debye_polynomials(num_terms: int) -> list[list[float]]:
    """Coefficients of ``P_0 .. P_num_terms``, lowest degree first, from Olver's recurrence."""
    u = {0: Fraction(1)}  # power of t -> coefficient
    tables = [[1.0]]
    for k in range(num_terms):
        nxt: dict[int, Fraction] = {}
        for e, c in u.items():
            if e > 0:  # t^2 (1 - t^2) u' / 2
                nxt[e + 1] = nxt.get(e + 1, 0) + c * e / 2
                nxt[e + 3] = nxt.get(e + 3, 0) - c * e / 2
            nxt[e + 1] = nxt.get(e + 1, 0) + c / (8 * (e + 1))  # int (1 - 5 r^2) u / 8
            nxt[e + 3] = nxt.get(e + 3, 0) - 5 * c / (8 * (e + 3))
        u = nxt
        tables.append([float(u.get(k + 1 + 2 * j, 0)) for j in range(k + 2)])
    return tables


_P = _debye_polynomials(NUM_TERMS)
# t^(k-1) Q_k(t^2) = d/dt u_k(t): coefficient of t^(k + 2j) times (k + 2j).
_Q = [[(k + 2 * j) * c for j, c in enumerate(p)] for k, p in enumerate(_P)]


def _horner(z: torch.Tensor, coeffs: list[float], out: torch.Tensor) -> torch.Tensor:
    """``sum_j coeffs[j] z^j``, written into ``out`` (a scratch tensor of ``z``'s shape)."""
    out.fill_(coeffs[-1])
    for c in reversed(coeffs[:-1]):
        out.mul_(z).add_(c)
    return out


def _double_sum(a: torch.Tensor, tau: torch.Tensor, tables: list[list[float]]) -> torch.Tensor:
    """``sum_k a^k table_k(tau)``, Horner in ``a`` and, for each polynomial, in ``tau`` (one
    scratch tensor serves every inner polynomial)."""
    out = _horner(tau, tables[-1], torch.empty_like(tau))
    scratch = torch.empty_like(tau)
    for coeffs in reversed(tables[:-1]):
        out.mul_(a).add_(_horner(tau, coeffs, scratch))
    return out


def debye_sum(v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``S = sum_{k <= NUM_TERMS} u_k(t) / v^k``."""
    return _double_sum(t / v, t * t, _P)


def debye_sum_dt(v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``dS/dt = sum_{k >= 1} u_k'(t) / v^k = (1 / v) sum_{k >= 1} (t / v)^(k - 1) Q_k(t^2)``."""
    return _double_sum(t / v, t * t, _Q[1:]) / v
