"""Cached experiment runs with their provenance, under ``results/<experiment>/<profile>/``."""

from hvae_lib.results.provenance import environment, git_commit, native_bfloat16, training_precision
from hvae_lib.results.store import EARLIER_WALL_S, RunStore, one_per_run, results_dir

__all__ = ["EARLIER_WALL_S", "RunStore", "environment", "git_commit", "native_bfloat16", "one_per_run", "results_dir", "training_precision"]
