r"""Hyperspherical coordinates of x in R^n, any n >= 2, batched over leading dimensions.

With r = |x| and angles phi_1..phi_(n-1), numbered from the first coordinate,

    x_1 = r cos phi_1
    x_k = r sin phi_1 ... sin phi_(k-1) cos phi_k        k = 2..n-1
    x_n = r sin phi_1 ... sin phi_(n-1)

with phi_1..phi_(n-2) in [0, pi] and phi_(n-1) in [0, 2 pi). The inverse needs only the suffix
norms s_k = sqrt(x_k^2 + ... + x_n^2), one reversed cumulative sum, so every function here is
O(n) per row (the authors' code builds an n x n mask, O(n^2)):

    cos phi_k = x_k / s_k,    phi_k = atan2(s_(k+1), x_k)   k = 1..n-2,
    phi_(n-1) = atan2(x_n, x_(n-1)) mapped into [0, 2 pi).

``eps`` reproduces the follow-up paper's code, which adds eps (1e-3 there) under every square
root: cos phi_k = x_k / sqrt(s_k^2 + eps). The angles returned with the same eps are those whose
cosines these are. atan2 keeps the angles accurate near 0 and pi, where arccos is not.

Degenerate rows follow one convention, chosen so that the round trip holds and nothing is NaN:
an angle whose remaining coordinates are all zero is 0 (so with eps = 0 its cosine is 1), the
zero vector has r = 0 and all angles 0, and -0.0 counts as non-negative. At such points the
gradients are the finite one-sided values of the masked branches.
"""

from __future__ import annotations

import math

import torch


def _suffix_squares(x: torch.Tensor) -> torch.Tensor:
    """s_k^2 = x_k^2 + ... + x_n^2 for k = 1..n, summed from the last coordinate (no cancellation)."""
    return x.square().flip(-1).cumsum(-1).flip(-1)


def _safe_sqrt(value: torch.Tensor) -> torch.Tensor:
    """sqrt(value) with a zero gradient, not an infinite one, where value is 0."""
    positive = value > 0
    return torch.where(positive, torch.where(positive, value, torch.ones_like(value)).sqrt(), torch.zeros_like(value))


def _safe_atan2(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """atan2(y, x), 0 with zero gradients at y = x = 0 (torch's gradient there is NaN)."""
    origin = (y == 0) & (x == 0)
    angle = torch.atan2(torch.where(origin, torch.zeros_like(y), y), torch.where(origin, torch.ones_like(x), x))
    return torch.where(origin, torch.zeros_like(angle), angle)


def _check(x: torch.Tensor, eps: float) -> None:
    if x.dim() == 0 or x.shape[-1] < 2:
        raise ValueError(f"hyperspherical coordinates need a last dimension n >= 2, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"hyperspherical coordinates need a floating-point tensor, got {x.dtype}")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")


def hyperspherical_cosines(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """cos phi_k = x_k / sqrt(s_k^2 + eps) for k = 1..n-1: shape (..., n-1). With eps = 0 a
    cosine whose remaining coordinates are all zero is 1 (its angle is 0)."""
    _check(x, eps)
    tail = _suffix_squares(x)[..., :-1] + eps
    positive = tail > 0
    cosines = x[..., :-1] / torch.where(positive, tail, torch.ones_like(tail)).sqrt()
    return torch.where(positive, cosines, torch.ones_like(cosines))


def to_hyperspherical(x: torch.Tensor, eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, phi) of x: r = |x| of shape (...,), phi of shape (..., n-1) with phi_1..phi_(n-2) in
    [0, pi] and phi_(n-1) in [0, 2 pi). With eps > 0, cos phi_k = x_k / sqrt(s_k^2 + eps)."""
    _check(x, eps)
    squares = _suffix_squares(x)
    r = _safe_sqrt(squares[..., 0])
    # phi_k = atan2(sqrt(s_(k+1)^2 + eps), x_k): its cosine is x_k / sqrt(s_k^2 + eps).
    polar = _safe_atan2(_safe_sqrt(squares[..., 1:-1] + eps), x[..., :-2])
    last_y = x[..., -1]
    if eps:
        last_y = torch.where(last_y < 0, -1.0, 1.0).to(x.dtype) * (last_y.square() + eps).sqrt()
    last = _safe_atan2(last_y, x[..., -2])
    last = torch.where(last < 0, last + 2 * math.pi, last)
    last = torch.where(last >= 2 * math.pi, last - 2 * math.pi, last)  # -tiny + 2 pi rounds to 2 pi
    return r, torch.cat([polar, last.unsqueeze(-1)], dim=-1)


def from_hyperspherical(r: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """x of shape (..., n) from r (...,) and phi (..., n-1): x_k = r cos phi_k prod_(j<k) sin phi_j,
    with cos phi_n taken as 1, by one cumulative product."""
    if phi.dim() == 0 or phi.shape[-1] < 1:
        raise ValueError(f"phi needs a last dimension n - 1 >= 1, got shape {tuple(phi.shape)}")
    r = torch.as_tensor(r, dtype=phi.dtype, device=phi.device)
    ones = torch.ones_like(phi[..., :1])
    sines = torch.cat([ones, torch.cumprod(phi.sin(), dim=-1)], dim=-1)
    cosines = torch.cat([phi.cos(), ones], dim=-1)
    return r.unsqueeze(-1) * sines * cosines


def masked_hyperspherical_cosines(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """The same cosines as ``hyperspherical_cosines``, computed as the authors' code does: the
    suffix sums s_k^2 as a product with an n x n upper-triangular mask, O(n^2) per row. Kept to
    measure what the O(n) form saves; it has no other use."""
    _check(x, eps)
    n = x.shape[-1]
    mask = torch.ones(n, n, dtype=x.dtype, device=x.device).triu()
    tail = (x.square().unsqueeze(-2) * mask).sum(-1)[..., :-1] + eps
    positive = tail > 0
    cosines = x[..., :-1] / torch.where(positive, tail, torch.ones_like(tail)).sqrt()
    return torch.where(positive, cosines, torch.ones_like(cosines))
