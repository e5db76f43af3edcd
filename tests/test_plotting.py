"""The figure helper writes 16:9 slide files and leaves the notebook's figure as it was."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest

from hvae_lib.plotting import SLIDE_DPI, SLIDE_SIZE_IN, save_figure, use_style


def test_save_figure_writes_slide_versions(tmp_path):
    use_style()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1], [1, 0])
    save_figure(fig, "line", folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.pdf", "line.png", "line.svg"]
    height, width = mpimg.imread(tmp_path / "line.png").shape[:2]
    assert width / height == pytest.approx(16 / 9, rel=0.05)
    assert width == pytest.approx(SLIDE_SIZE_IN[0] * SLIDE_DPI, rel=0.1)
    assert tuple(fig.get_size_inches()) == (6, 4)
    assert (tmp_path / "line.pdf").read_bytes().startswith(b"%PDF")
    plt.close(fig)


def test_save_figure_rejects_paths_as_names(tmp_path):
    fig = plt.figure()
    with pytest.raises(ValueError, match="plain file stem"):
        save_figure(fig, "sub/dir", folder=tmp_path)
    plt.close(fig)
