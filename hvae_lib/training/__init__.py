"""Training loops: the VAE ensemble (Table 1, Figures 1-2) and link prediction (Table 4)."""

from hvae_lib.training.link_prediction import (
    LinkSettings,
    build_model,
    fit,
    link_metrics,
    run_link_prediction,
    split_edges,
)
from hvae_lib.training.vae_training import TrainingOutcome, TrainingSchedule, train_ensemble

__all__ = [
    "LinkSettings",
    "TrainingOutcome",
    "TrainingSchedule",
    "build_model",
    "fit",
    "link_metrics",
    "run_link_prediction",
    "split_edges",
    "train_ensemble",
]
