"""The orthogonal map that carries the north pole e1 to a mean direction mu."""

import torch

__all__ = ["householder_rotation"]


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
