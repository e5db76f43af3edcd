"""The data chapter: MNIST digits, their dynamic binarisation, and the Planetoid graphs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch

from hvae_lib.data import BinarizedBatches, DataUnavailableError, ImageSplit, load_images, load_planetoid
from hvae_lib.data.planetoid import PLANETOID_NAMES
from hvae_lib.results.store import PROFILES

DRAWS = 3


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")


def image_statistics(profile: str, name: str = "mnist") -> pd.DataFrame:
    """Sizes, class balance and mean intensity of the train / validation / test splits."""
    _check_profile(profile)
    data = load_images(name)
    rows = []
    for split_name, split in (("train", data.train), ("validation", data.valid), ("test", data.test)):
        counts = torch.bincount(split.labels, minlength=10)
        rows.append(
            {
                "split": split_name,
                "images": len(split),
                "smallest class": int(counts.min()),
                "largest class": int(counts.max()),
                "mean intensity": round(float(split.images.mean()), 4),
                "share of pixels in (0, 1)": round(float(((split.images > 0) & (split.images < 1)).float().mean()), 4),
            }
        )
    return pd.DataFrame(rows).set_index("split")


def binarization_figure(profile: str, name: str = "mnist", seed: int = 0) -> plt.Figure:
    """One test digit per class: its grey levels, then ``DRAWS`` dynamic binarisations of it."""
    _check_profile(profile)
    test = load_images(name).test
    first_of_class = torch.stack([torch.nonzero(test.labels == c)[0, 0] for c in range(10)])
    digits = ImageSplit(test.images[first_of_class], test.labels[first_of_class])
    draws = BinarizedBatches(digits, batch_size=10, seed=seed)
    binary = [next(iter(draws))[0] for _ in range(DRAWS)]
    fig, axes = plt.subplots(1 + DRAWS, 10, figsize=(8.0, 3.6))
    for row, images in enumerate([digits.images, *binary]):
        for col in range(10):
            ax = axes[row, col]
            ax.imshow(images[col].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[row, 0].set_ylabel("grey" if row == 0 else f"draw {row}", rotation=0, ha="right", va="center")
    return fig


def graph_statistics(profile: str) -> pd.DataFrame:
    """Statistics of each Planetoid graph (one column per graph), computed from the loaded graph.

    A graph whose files are missing offline gets a column saying so instead of numbers.
    """
    _check_profile(profile)
    rows = []
    for name in PLANETOID_NAMES:
        try:
            graph = load_planetoid(name)
        except DataUnavailableError as error:
            rows.append({"graph": name, "status": f"missing {', '.join(error.missing)}"})
            continue
        rows.append({"graph": name, "status": "loaded", **_graph_numbers(graph)})
    return pd.DataFrame(rows, dtype=object).set_index("graph").T.fillna("")


def _graph_numbers(graph) -> dict[str, float | int]:
    n = graph.num_nodes
    src, dst = graph.edge_index
    undirected = int((src < dst).sum())
    degree = torch.bincount(src, minlength=n)
    same_class = (graph.y[src] == graph.y[dst]).float().mean()
    return {
        "nodes": n,
        "edges (undirected)": undirected,
        "features": graph.num_features,
        "classes": int(graph.y.max()) + 1,
        "mean degree": round(float(degree.float().mean()), 2),
        "isolated nodes": int((degree == 0).sum()),
        "density (%)": round(100 * 2 * undirected / (n * (n - 1)), 3),
        "edge homophily": round(float(same_class), 3),
        "link-prediction test edges (10%)": int(round(0.10 * undirected)),
    }
