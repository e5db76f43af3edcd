"""Cached experiment runs with their provenance, under ``results/<experiment>/<profile>/``."""

from hvae_lib.results.provenance import environment, git_commit
from hvae_lib.results.store import RunStore, results_dir

__all__ = ["RunStore", "environment", "git_commit", "results_dir"]
