"""One function per table or figure of the book, each parameterised by a profile.

Profiles: ``smoke`` (seconds, for tests and CI), ``cpu`` (meaningful on a 2-core laptop),
``full`` (the paper's protocol, for a GPU).
"""

from hvae_lib.experiments.data_chapter import binarization_figure, graph_statistics, image_statistics

__all__ = ["binarization_figure", "graph_statistics", "image_statistics"]
