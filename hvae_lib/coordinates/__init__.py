"""Coordinates on R^n used by the follow-up paper's compressed VAE: hyperspherical (r, phi), and
the area of spherical caps."""

from .caps import cap_fraction
from .hyperspherical import from_hyperspherical, hyperspherical_cosines, masked_hyperspherical_cosines, to_hyperspherical

__all__ = [
    "cap_fraction", "from_hyperspherical", "hyperspherical_cosines", "masked_hyperspherical_cosines", "to_hyperspherical",
]
