"""hvae_lib: the library behind the Hyperspherical VAE book.

Layers, each importing only those above it in this list (``tests/test_layers.py`` checks it):

- ``hvae_lib.special``: log-Bessel functions and Bessel ratios with analytic gradients;
- ``hvae_lib.distributions``: ``VonMisesFisher``, ``HypersphericalUniform``, ``PowerSpherical``;
- ``hvae_lib.coordinates``: hyperspherical coordinates (r, phi) of R^n, O(n) per row;
- ``hvae_lib.models``: the VAEs and graph VAEs;
- ``hvae_lib.training``, ``hvae_lib.evaluation``: the ensemble training engine, IWAE, K-NN;
- ``hvae_lib.experiments``: one module per chapter of the book, parameterised by profile.

Beside them, used by the layers above: ``hvae_lib.data`` (data sets), ``hvae_lib.results``
(the results cache with provenance), ``hvae_lib.plotting``, ``hvae_lib.stats``, ``hvae_lib.report``;
and the book's tooling on top: ``hvae_lib.chapters``, ``hvae_lib.slides``, ``hvae_lib.book_check``.
"""

__version__ = "0.1.0"
