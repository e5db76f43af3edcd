"""The talk's deck builds under the smoke profile: 9 pages, every page and figure exactly 16:9."""

from __future__ import annotations

import matplotlib.image
import pypdf
import pytest

from hvae_lib import slides


def test_deck_builds_with_16_9_pages_and_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path / "results"))  # no results: pending slides
    deck = slides.build("smoke", tmp_path / "slides")
    pages = pypdf.PdfReader(deck).pages
    assert len(pages) == len(slides.SLIDES) == 9
    for page in pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert width / height == pytest.approx(16 / 9, abs=1e-3)
    for name, _ in slides.SLIDES:
        image = matplotlib.image.imread(tmp_path / "slides" / "figures" / f"{name}.png")
        assert image.shape[:2] == (1080, 1920), name
        assert (tmp_path / "slides" / "figures" / f"{name}.svg").exists()
