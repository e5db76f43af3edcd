"""One figure style for the web book and for slides, and a helper that saves both versions.

``save_figure(fig, name)`` keeps the figure as drawn for the notebook (the book shows it) and
writes a 16:9 slide version as PDF, SVG and 300-dpi PNG under ``figures/`` (or
``$HVAE_FIGURES_DIR``), where ``make figures`` collects them.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

SLIDE_SIZE_IN = (13.333, 7.5)
SLIDE_FORMATS = ("pdf", "svg", "png")
SLIDE_DPI = 300

# Okabe-Ito colours: distinguishable with colour-blindness and in grey-scale print.
COLORS = {
    "normal": "#0072B2",
    "vmf": "#D55E00",
    "power_spherical": "#009E73",
    "reference": "#555555",
}
CYCLE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (8.0, 4.5),
    "figure.dpi": 110,
    "figure.constrained_layout.use": True,
    "savefig.bbox": "tight",
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "legend.fontsize": 11,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.prop_cycle": mpl.cycler(color=CYCLE),
    "image.cmap": "viridis",
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
}


def use_style() -> None:
    """Apply the book's figure style to matplotlib."""
    mpl.rcParams.update(STYLE)


def figures_dir() -> Path:
    """Where slide figures go: ``$HVAE_FIGURES_DIR`` if set, else ``figures/`` in the project."""
    configured = os.environ.get("HVAE_FIGURES_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[1] / "figures"


def save_figure(fig: plt.Figure, name: str, folder: Path | str | None = None) -> None:
    """Write ``fig`` as a 16:9 slide figure ``folder/name.{pdf,svg,png}`` (``figures_dir()``).

    The figure is resized to the slide size for saving only; the notebook keeps its original
    size, so the book and the slides come from the same drawing.
    """
    if not name or os.sep in name or name.startswith("."):
        raise ValueError(f"name must be a plain file stem like 'table1_ll_vs_d', got {name!r}")
    folder = Path(folder or figures_dir())
    folder.mkdir(parents=True, exist_ok=True)
    original = fig.get_size_inches().copy()
    fig.set_size_inches(*SLIDE_SIZE_IN)
    try:
        with mpl.rc_context({"savefig.bbox": "standard"}):  # "tight" would crop away the 16:9 shape
            for fmt in SLIDE_FORMATS:
                fig.savefig(folder / f"{name}.{fmt}", dpi=SLIDE_DPI, metadata=_metadata(fmt))
    finally:
        fig.set_size_inches(*original)


def _metadata(fmt: str) -> dict[str, str | None]:
    """Drop creation dates so that re-saving an unchanged figure gives identical files."""
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})


def hammer_projection(xyz):
    """Hammer-Aitoff equal-area projection of unit vectors ``xyz`` (shape (..., 3)) to (X, Y).

    lon = atan2(y, x), lat = asin(z), D = sqrt(1 + cos(lat) cos(lon/2)):
    X = 2 sqrt(2) cos(lat) sin(lon/2) / D, Y = sqrt(2) sin(lat) / D; the sphere fills the ellipse
    (X / 2 sqrt 2)^2 + (Y / sqrt 2)^2 <= 1, (1, 0, 0) maps to the centre. Accepts numpy arrays or
    anything ``numpy.asarray`` takes.
    """
    xyz = np.asarray(xyz, dtype=float)
    lon = np.arctan2(xyz[..., 1], xyz[..., 0])
    lat = np.arcsin(np.clip(xyz[..., 2], -1.0, 1.0))
    denominator = np.sqrt(1 + np.cos(lat) * np.cos(lon / 2))
    return 2 * np.sqrt(2) * np.cos(lat) * np.sin(lon / 2) / denominator, np.sqrt(2) * np.sin(lat) / denominator
