"""The talk's deck builds under the smoke profile: 10 pages, every page and figure exactly 16:9."""

from __future__ import annotations

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pypdf
import pytest

from hvae_lib import slides


def test_deck_builds_with_16_9_pages_and_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path / "results"))  # no results: pending slides
    deck = slides.build("smoke", tmp_path / "slides")
    pages = pypdf.PdfReader(deck).pages
    assert len(pages) == len(slides.SLIDES) == 10
    for page in pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert width / height == pytest.approx(16 / 9, abs=1e-3)
    for name, _ in slides.SLIDES:
        image = matplotlib.image.imread(tmp_path / "slides" / "figures" / f"{name}.png")
        assert image.shape[:2] == (1080, 1920), name
        assert (tmp_path / "slides" / "figures" / f"{name}.svg").exists()


def test_unfinished_names_the_table1_cells_short_of_their_runs_and_table3s_budget(monkeypatch):
    from hvae_lib.experiments import table1, table3

    setup = table1.PROFILES["full"]
    counts = {("N-VAE", d): setup.runs for d in setup.dims} | {("S-VAE", d): 5 for d in setup.dims} | {("N-VAE", 40): 5}
    frame = pd.DataFrame([{"model": m, "d": d, "run": r} for (m, d), n in counts.items() for r in range(n)])
    monkeypatch.setattr(table1, "stored_runs", lambda profile: frame)
    monkeypatch.setattr(slides, "_profile_of", lambda experiment, wanted: "cpu")
    lines = slides._unfinished("cpu")
    dims = ", ".join(map(str, setup.dims))
    assert lines[1] == f"Table 1 under the paper's protocol so far: N-VAE at d = 40 and S-VAE at d = {dims} have 5 of {setup.runs} runs."
    assert f"({table3.PROFILES['cpu'].schedule.epochs} of about {table3.PROFILES['full'].schedule.epochs} M2 epochs)" in lines[2]
    complete = pd.DataFrame([{"model": m, "d": d, "run": r} for m in table1.MODELS for d in setup.dims for r in range(setup.runs)])
    monkeypatch.setattr(table1, "stored_runs", lambda profile: complete)
    monkeypatch.setattr(slides, "_profile_of", lambda experiment, wanted: "full")
    assert slides._unfinished("full") == ["'Confirmed' and 'refuted' are said only under the paper's protocol."]


def test_table3_slide_draws_every_pairing_and_the_papers_marks(monkeypatch):
    from hvae_lib.experiments import table3

    rng = np.random.default_rng(0)
    rows = [{"configuration": c, "z1": z1, "z2": z2, "run": r, "test accuracy": 80 + 5 * rng.random(), "epochs": 100, "precision": "bfloat16"}
            for c in table3.PAPER.columns for z1, z2 in table3.PAPER.index for r in range(3)]
    monkeypatch.setattr(table3, "stored_runs", lambda profile: pd.DataFrame(rows))
    monkeypatch.setattr(slides, "_profile_of", lambda experiment, wanted: "cpu")
    fig = slides.slide_table3("cpu")
    panels = [ax for ax in fig.axes if ax.get_title().startswith("z1 = ")]
    assert [ax.get_title() for ax in panels] == [f"z1 = {z1}" for z1 in table3.PROFILES["cpu"].z1s]
    for ax in panels:
        assert len(ax.patches) == len(table3.PAPER.columns) * len(table3.PROFILES["cpu"].z2s)
        marks = np.concatenate([line.get_ydata() for line in ax.get_lines() if line.get_gid() == "paper"])
        z1 = int(ax.get_title().removeprefix("z1 = "))
        assert sorted(marks) == sorted(table3.PAPER.loc[z1].to_numpy().ravel())
    text = " ".join(" ".join(t.get_text() for t in fig.texts).split())
    assert "18 Welch tests, Holm" in text and "Kingma" not in text
    plt.close(fig)
