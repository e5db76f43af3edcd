"""The part every (mean direction, concentration) distribution on the sphere shares."""

import torch
from torch.distributions import constraints
from torch.distributions.distribution import Distribution

from .constraints import sphere


class DirectionalDistribution(Distribution):
    """Base class of distributions on S^(m-1) in R^m with a mean direction ``loc`` (unit vectors
    of shape ``(..., m)``, m >= 2) and a concentration (>= 0, broadcastable with
    ``loc.shape[:-1]``, cast to ``loc``'s dtype): argument checks, broadcasting, ``expand``."""

    arg_constraints = {"loc": sphere, "concentration": constraints.nonnegative}
    support = sphere
    has_rsample = True

    def __init__(self, loc, concentration, validate_args=None):
        if loc.dim() < 1 or loc.shape[-1] < 2:
            raise ValueError(
                "loc must have at least 2 entries in its last dimension (m >= 2), "
                f"got shape {tuple(loc.shape)}"
            )
        concentration = torch.as_tensor(concentration, dtype=loc.dtype, device=loc.device)
        batch_shape = torch.broadcast_shapes(loc.shape[:-1], concentration.shape)
        self.loc = loc.expand(batch_shape + loc.shape[-1:])
        self.concentration = concentration.expand(batch_shape)
        super().__init__(batch_shape, loc.shape[-1:], validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape + self.event_shape)
        new.concentration = self.concentration.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _m(self):
        """The ambient dimension m."""
        return self.event_shape[0]

    @property
    def mode(self):
        return self.loc
