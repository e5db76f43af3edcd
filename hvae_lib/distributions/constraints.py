"""The constraint shared by the spherical distributions: unit vectors along the last dimension."""

import torch
from torch.distributions import constraints

__all__ = ["sphere"]


class _Sphere(constraints.Constraint):
    """The unit sphere S^(m-1) = {z in R^m : |z| = 1}, m = ``value.shape[-1]``.

    A vector passes when | |z| - 1 | <= sqrt(machine epsilon) of its dtype (3.5e-4 in float32,
    1.5e-8 in float64): room for the round-off of normalising a vector with up to ~10^4 entries,
    or of casting a normalised float32 vector to float64.
    """

    event_dim = 1

    def check(self, value):
        tolerance = torch.finfo(value.dtype).eps ** 0.5
        return (torch.linalg.vector_norm(value, dim=-1) - 1).abs() <= tolerance

    def __repr__(self):
        return "Sphere()"


sphere = _Sphere()
