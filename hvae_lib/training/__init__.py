"""Training loops: the VAE ensemble (Table 1, Figures 1-2), link prediction (Table 4) and the
follow-up paper's image VAEs."""

from hvae_lib.training.image_vae_training import ImageVAEHistory, ImageVAESchedule, train_image_vae

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
    "ImageVAEHistory",
    "ImageVAESchedule",
    "LinkSettings",
    "TrainingOutcome",
    "TrainingSchedule",
    "build_model",
    "fit",
    "link_metrics",
    "run_link_prediction",
    "split_edges",
    "train_ensemble",
    "train_image_vae",
]
