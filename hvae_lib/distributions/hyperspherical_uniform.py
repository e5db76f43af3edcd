"""The uniform distribution on the sphere S^(m-1) in R^m."""

import math

import torch
from torch.distributions.distribution import Distribution

from .constraints import sphere

__all__ = ["HypersphericalUniform", "log_sphere_area", "uniform_direction"]


def log_sphere_area(m):
    """log |S^(m-1)| = log(2 pi^(m/2) / Gamma(m/2)), the area of the unit sphere in R^m."""
    return math.log(2) + (m / 2) * math.log(math.pi) - math.lgamma(m / 2)


def uniform_direction(shape, dim, dtype=None, device=None):
    """Uniform draws on S^(dim-1) in R^dim, of shape ``shape + (dim,)``: a normalised standard
    Gaussian vector, or a random sign when dim = 1 (where a Gaussian could be exactly zero)."""
    shape = torch.Size(shape) + (dim,)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if dim == 1:
        return torch.where(torch.rand(shape, device=device) < 0.5, -1.0, 1.0).to(dtype)
    x = torch.randn(shape, dtype=dtype, device=device)
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)


class HypersphericalUniform(Distribution):
    r"""The uniform distribution on the unit sphere S^(m-1) = {z in R^m : |z| = 1}.

    ``dim`` is the ambient dimension m, the length of a sample: the same m as ``loc.shape[-1]`` of
    ``VonMisesFisher(loc, concentration)``, so ``kl_divergence(VonMisesFisher(loc, kappa),
    HypersphericalUniform(loc.shape[-1]))`` is the KL term of the paper's ELBO. (The
    ``power_spherical`` package uses the same convention.) The density with respect to the surface
    measure is constant, 1 / |S^(m-1)|, |S^(m-1)| = 2 pi^(m/2) / Gamma(m/2).

    Args:
        dim (int): the ambient dimension m >= 1.
        validate_args (bool, optional): check the samples passed to ``log_prob``.
        device, dtype: of the samples (defaults: CPU, ``torch.get_default_dtype()``).
        batch_shape (torch.Size, optional): the batch shape, for ``expand`` and ``Independent``.
    """

    arg_constraints = {}
    support = sphere
    has_rsample = True

    def __init__(self, dim, validate_args=None, device=None, dtype=None, batch_shape=torch.Size()):
        if isinstance(dim, bool) or int(dim) != dim or dim < 1:
            raise ValueError(f"dim (the ambient dimension m) must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dtype = torch.get_default_dtype() if dtype is None else dtype
        super().__init__(torch.Size(batch_shape), torch.Size((self.dim,)), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(HypersphericalUniform, _instance)
        new.dim, new.device, new.dtype = self.dim, self.device, self.dtype
        super(HypersphericalUniform, new).__init__(
            torch.Size(batch_shape), self.event_shape, validate_args=False
        )
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return torch.zeros(self.batch_shape + self.event_shape, dtype=self.dtype, device=self.device)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)[:-1]
        return uniform_direction(shape, self.dim, self.dtype, self.device)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        shape = torch.broadcast_shapes(value.shape[:-1], self.batch_shape)
        return torch.full(shape, -log_sphere_area(self.dim), dtype=value.dtype, device=value.device)

    def entropy(self):
        return torch.full(self.batch_shape, log_sphere_area(self.dim), dtype=self.dtype, device=self.device)

    def __repr__(self):
        return f"{self.__class__.__name__}(dim={self.dim})"
