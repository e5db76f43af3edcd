"""Coordinates on R^n used by the follow-up paper's compressed VAE: hyperspherical (r, phi)."""

from .hyperspherical import from_hyperspherical, hyperspherical_cosines, to_hyperspherical

__all__ = ["from_hyperspherical", "hyperspherical_cosines", "to_hyperspherical"]
