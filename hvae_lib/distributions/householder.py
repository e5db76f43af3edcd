"""The orthogonal map that carries the north pole e1 to a mean direction mu."""

import torch

__all__ = ["householder_rotation", "rotate_tangent_sample"]


def householder_rotation(loc, x):
    r"""Apply to ``x`` an orthogonal map H(mu), mu = ``loc``, with H(mu) e1 = mu exactly.

    The textbook Householder reflection U = I - 2 u u^T / (u^T u) with u = e1 - mu sends e1 to mu,
    but u vanishes as mu -> e1 and the map is then 0/0 (earlier implementations add an epsilon to
    |u|, which breaks mu = e1). Here the reflection is always taken along the longer of e1 -/+ mu:

    - mu_1 <= 0:  u = e1 - mu,  H = I - 2 u u^T / (u^T u)       (u^T u = 2 (1 - mu_1) >= 2);
    - mu_1 > 0:   u = e1 + mu,  H = -(I - 2 u u^T / (u^T u))    (u^T u = 2 (1 + mu_1) > 2).

    In the second case the reflection sends e1 to -mu and the sign flip brings it to mu. Both are
    orthogonal and exact at the poles: mu = e1 gives H z = (z_1, -z_2, ..., -z_m) and mu = -e1
    gives H z = (-z_1, z_2, ..., z_m). H(mu) jumps at mu_1 = 0 between two maps that agree on e1;
    every distribution here is rotationally symmetric about mu, so both push it forward to the same
    law and the path-wise gradient stays unbiased (the jump is a null set of parameters).

    Args:
        loc (Tensor): unit vectors mu, shape ``(..., m)``.
        x (Tensor): points to map, shape broadcastable with ``loc``.
    """
    sign = torch.where(loc[..., :1] > 0, -1.0, 1.0).to(loc.dtype)
    u = torch.cat((1 - sign * loc[..., :1], -sign * loc[..., 1:]), dim=-1)
    projection = (x * u).sum(-1, keepdim=True) / (u * u).sum(-1, keepdim=True)
    return sign * (x - 2 * projection * u)


def _compact(t):
    """``t`` without its broadcast copies: every batch dimension of stride 0 narrowed to size 1 (a
    view; it broadcasts back to ``t``'s shape), so maps of ``loc`` cost one evaluation per
    distinct mean direction rather than one per sample."""
    index = tuple(
        slice(0, 1) if stride == 0 and size > 1 else slice(None)
        for size, stride in zip(t.shape[:-1], t.stride()[:-1])
    )
    return t[index]


def rotate_tangent_sample(loc, first, radius, gaussian):
    r"""H(mu) z' for z' = (first; radius g / |g|), with H(mu) of :func:`householder_rotation`.

    This is the end of a sampler of a law rotationally symmetric about mu, such as the vMF's
    (z' = (w; sqrt(1 - w^2) v), v uniform on S^(m-2)), in one fused form. With sign and u as in :func:`householder_rotation`,
    s = sign radius / |g| and x' = sign z' = (sign first; s g),

        H z' = x' - c u,    c = 2 (x'.u) / (u.u) = 2 (sign first u_1 + s (g.u_rest)) / (u.u),

    so the only passes over the (n, m) sample are |g|, g.u_rest, s g and the in-place rank-one
    update -c u^T; v and z' are never formed. u is computed once per distinct mu (broadcast copies
    of ``loc`` are dropped), and a single mu takes a matrix-vector product for g.u_rest.

    Args:
        loc (Tensor): unit vectors mu, shape ``(..., m)``, broadcastable with ``first``'s shape.
        first, radius (Tensor): the first coordinate of z' and |z'_(2..m)|, shape ``shape``.
        gaussian (Tensor): shape ``shape + (m,)``, i.i.d. standard normal in columns 2..m (the
            direction of z'_(2..m)); its first column is ignored. Not modified.
    """
    m = loc.shape[-1]
    mu = _compact(loc)
    sign = torch.where(mu[..., :1] > 0, -1.0, 1.0).to(mu.dtype)
    u = torch.cat((1 - sign * mu[..., :1], -sign * mu[..., 1:]), dim=-1)
    uu, sign = (u * u).sum(-1), sign[..., 0]
    g = gaussian[..., 1:]
    if mu.shape[:-1].numel() == 1:  # one mean direction: a matrix-vector product
        u, sign, uu = u.reshape(m), sign.reshape(()), uu.reshape(())
        g_dot_u = g @ u[1:]
    else:
        g_dot_u = (g * u[..., 1:]).sum(-1)
    scale = sign * radius / torch.linalg.vector_norm(g, dim=-1)
    first = sign * first
    c = 2 * (first * u[..., 0] + scale * g_dot_u) / uu
    z = gaussian * scale.unsqueeze(-1)
    z[..., 0] = first
    return z.addcmul_(c.unsqueeze(-1), u, value=-1)
