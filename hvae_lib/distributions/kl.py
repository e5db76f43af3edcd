"""KL divergences to the uniform distribution on the sphere, registered with torch."""

import torch
from torch.distributions.kl import register_kl

from .hyperspherical_uniform import HypersphericalUniform, log_sphere_area
from .power_spherical import PowerSpherical
from .vmf_functions import kl_to_uniform
from .von_mises_fisher import VonMisesFisher

__all__ = []


def _check_dimensions(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"KL({type(p).__name__} || HypersphericalUniform): {type(p).__name__} lives on the sphere "
            f"in R^{p.event_shape[0]} but HypersphericalUniform has dim={q.dim}; "
            f"use HypersphericalUniform(dim={p.event_shape[0]})"
        )
    return torch.broadcast_shapes(p.batch_shape, q.batch_shape)


@register_kl(VonMisesFisher, HypersphericalUniform)
def _kl_vmf_uniform(p, q):
    """kappa A_m(kappa) + log C_m(kappa) + log|S^(m-1)|, with the exact gradient kappa A_m'(kappa)."""
    shape = _check_dimensions(p, q)
    return kl_to_uniform(p.event_shape[0], p.concentration.to(torch.float64)).to(p.loc.dtype).expand(shape)


@register_kl(PowerSpherical, HypersphericalUniform)
def _kl_power_spherical_uniform(p, q):
    """-H(p) + log|S^(m-1)|."""
    shape = _check_dimensions(p, q)
    return (log_sphere_area(p.event_shape[0]) - p.entropy()).expand(shape)
