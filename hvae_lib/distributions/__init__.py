"""Distributions on the sphere S^(m-1) in R^m: the von Mises-Fisher (sampled as in Davidson et
al. 2018), the uniform, and the power spherical (De Cao & Aziz 2020), with their KL divergences to
the uniform registered for ``torch.distributions.kl_divergence``."""

from . import kl
from .constraints import sphere
from .householder import householder_rotation
from .noise import GlobalNoise, Noise, RunNoise
from .hyperspherical_uniform import HypersphericalUniform, log_sphere_area, uniform_direction
from .power_spherical import PowerSpherical
from .vmf_functions import kappa_mean_resultant_derivative, kl_to_uniform, log_normalised_bessel_iv
from .von_mises_fisher import VonMisesFisher

__all__ = [
    "GlobalNoise",
    "HypersphericalUniform",
    "Noise",
    "PowerSpherical",
    "RunNoise",
    "VonMisesFisher",
    "householder_rotation",
    "kappa_mean_resultant_derivative",
    "kl_to_uniform",
    "log_normalised_bessel_iv",
    "log_sphere_area",
    "sphere",
    "uniform_direction",
]
