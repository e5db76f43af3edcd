r"""A one-hidden-layer softplus network evaluated on a grid of (example, class) pairs, with its
backward written out.

M2's encoder and decoder read a concatenation [u, onehot(y)] and its unlabelled bound evaluates
them for every class y of every example. Concatenating makes the first layer a matmul per pair;
splitting its weight instead, [u, onehot(y)] W = u W_u + W_y[y], gives the pre-activation as a
broadcast sum of a part per example and a part per class. ``pairwise_softplus_mlp`` computes, for
every run r and pair (n, k),

    pre = sum_i part_i + x W_in,   h = softplus(pre),   out = h W_out + b_out,

where the parts broadcast to (R, n, K, H), ``x`` (R, n, K, k_in) is an optional per-pair input
(M2's z2) and H is the hidden width. The (R, n, K, H) tensors are the whole cost, so it forms
pre and h directly in ``dtype`` (bfloat16 halves their memory traffic and runs the matmuls 3-10x
faster on AVX-512 BF16; the matmuls and sums accumulate in float32, their results are rounded to
bfloat16) and writes the backward by hand, saving pre and h:

    d h = d out W_out^T,   d pre = d h sigmoid(pre),
    d W_out = h^T d out,   d b_out = sum d out,   d W_in = x^T d pre,   d x = d pre W_in^T,
    d part_i = d pre summed over the dimensions part_i broadcasts along.

Everything the caller sees (out and every gradient) is in the inputs' dtype; with ``dtype`` equal
to it (float32 or float64) the function is exact up to rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_softplus_mlp(
    parts: tuple[torch.Tensor, ...],
    x: torch.Tensor | None,
    w_in: torch.Tensor | None,
    w_out: torch.Tensor,
    b_out: torch.Tensor,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """softplus(sum(parts) + x W_in) W_out + b_out over the pair grid, shape (R, n, K, k_out).

    Args:
        parts: tensors broadcastable to (R, n, K, H), e.g. (R, n, 1, H) per example and
            (R, 1, K, H) per class; at least one.
        x: (R, n, K, k_in), or None (then ``w_in`` is None too).
        w_in: (R, k_in, H).
        w_out: (R, H, k_out).
        b_out: (R, 1, k_out).
        dtype: the dtype of the hidden activations and the matmuls (the inputs' by default).
    """
    if not parts:
        raise ValueError("pairwise_softplus_mlp needs at least one part of the pre-activation")
    if (x is None) != (w_in is None):
        raise ValueError("x and w_in must be given together")
    return _PairwiseSoftplusMLP.apply(dtype or w_out.dtype, x, w_in, w_out, b_out, *parts)


class _PairwiseSoftplusMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dtype, x, w_in, w_out, b_out, *parts):
        runs, hidden = w_out.shape[0], w_out.shape[1]
        grid = torch.broadcast_shapes(*(part.shape for part in parts), *(() if x is None else (x.shape[:-1] + (hidden,),)))
        pre = torch.empty(grid, dtype=dtype, device=w_out.device)
        if len(parts) == 1:
            pre.copy_(parts[0].expand(grid))
        else:
            torch.add(parts[0], parts[1], out=pre)
        for part in parts[2:]:
            pre += part
        x_c = w_in_c = None
        if x is not None:
            x_c, w_in_c = x.reshape(runs, -1, x.shape[-1]).to(dtype), w_in.to(dtype)
            pre.view(runs, -1, hidden).baddbmm_(x_c, w_in_c)
        h = F.softplus(pre).view(runs, -1, hidden)
        w_out_c = w_out.to(dtype)
        out = torch.bmm(h, w_out_c).to(w_out.dtype).add_(b_out)
        ctx.save_for_backward(pre, h, w_out_c, x_c, w_in_c)
        ctx.part_shapes = [part.shape for part in parts]
        return out.view(*grid[:-1], w_out.shape[-1])

    @staticmethod
    def backward(ctx, d_out):
        pre, h, w_out_c, x_c, w_in_c = ctx.saved_tensors
        runs, dtype, out_dtype = h.shape[0], h.dtype, d_out.dtype
        d_out = d_out.reshape(runs, -1, d_out.shape[-1])
        d_out_c = d_out.to(dtype)
        d_w_out = torch.bmm(h.transpose(1, 2), d_out_c).to(out_dtype)
        d_b_out = d_out.sum(dim=1, keepdim=True)
        d_h = torch.bmm(d_out_c, w_out_c.transpose(1, 2)).view(pre.shape)
        d_pre = torch.ops.aten.softplus_backward(d_h, pre, 1, 20)
        d_x = d_w_in = None
        if x_c is not None:
            flat = d_pre.view(runs, -1, pre.shape[-1])
            d_w_in = torch.bmm(x_c.transpose(1, 2), flat).to(out_dtype)
            d_x = torch.bmm(flat, w_in_c.transpose(1, 2)).to(out_dtype).view(*pre.shape[:-1], -1)
        d_parts = [_sum_to(d_pre, shape).to(out_dtype) for shape in ctx.part_shapes]
        return (None, d_x, d_w_in, d_w_out, d_b_out, *d_parts)


def _sum_to(d: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``d`` summed over the dimensions along which a tensor of ``shape`` was broadcast to
    ``d.shape`` (torch accumulates a bfloat16 sum in float32 and rounds the result)."""
    dims = tuple(i for i, (size, full) in enumerate(zip(shape, d.shape)) if size == 1 and full != 1)
    return d.sum(dim=dims, keepdim=True) if dims else d
