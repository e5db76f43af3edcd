"""hvae_lib: the library behind the Hyperspherical VAE book.

Layers, each importing only those above it in this list:

- ``hvae_lib.special``: log-Bessel functions and Bessel ratios with analytic gradients;
- ``hvae_lib.distributions``: ``VonMisesFisher``, ``HypersphericalUniform``, ``PowerSpherical``;
- ``hvae_lib.data``, ``hvae_lib.results``, ``hvae_lib.plotting``: data sets, the results cache
  with provenance, the figure style;
- ``hvae_lib.experiments``: one function per table or figure of the book.
"""

__version__ = "0.1.0"
