"""Table 2 at the paper's protocol: only the dimensions where both families have runs."""

import numpy as np
import pandas as pd

from hvae_lib.experiments import table2


def _knn(dims, runs=3, draws=4):
    rng = np.random.default_rng(11)
    rows = [
        {"model": model, "d": d, "run": run, "labels": labels, "draw": draw, "k": 1, "metric": "euclidean", "accuracy": 80 + rng.normal()}
        for model in ("N-VAE", "S-VAE") for d in dims for run in range(runs) for labels in (100, 600, 1000) for draw in range(draws)
    ]
    return pd.DataFrame(rows)


def test_full_protocol_table_reads_only_finished_dimensions(monkeypatch):
    knn = _knn((5, 10))
    monkeypatch.setattr(table2, "full_protocol_dims", lambda: [5])
    monkeypatch.setattr(table2, "table2_runs", lambda profile, train: knn)
    result = table2.full_protocol_table()
    assert set(result.index.get_level_values("d")) == {5}
    assert result.equals(table2.table2(knn[knn["d"] == 5], "full"))
    assert result["verdict"].isin(["confirmed", "refuted", "not significant"]).all()


def test_full_protocol_table_without_finished_dimensions_says_so(monkeypatch):
    monkeypatch.setattr(table2, "full_protocol_dims", lambda: [])
    assert table2.full_protocol_table()["verdict"].iloc[0].startswith("no d has two runs")


def test_the_verdict_follows_the_papers_stars_in_each_cell():
    rng = np.random.default_rng(3)
    shift = {"S-VAE": 3.0, "N-VAE": 0.0}
    rows = [
        {"model": model, "d": d, "run": run, "labels": labels, "draw": draw, "k": 1, "metric": "euclidean",
         "accuracy": 80 + shift[model] + 0.1 * rng.normal()}
        for model in ("N-VAE", "S-VAE") for d in (10, 40) for run in range(3) for labels in (100, 600) for draw in range(4)
    ]
    knn = pd.DataFrame(rows)
    full, reduced = table2.table2(knn, "full")["verdict"], table2.table2(knn, "cpu")["verdict"]
    # the paper stars the S-VAE at d = 10, the N-VAE at (40, 100) and neither at (40, 600)
    assert full[(10, 100)] == "confirmed" and reduced[(10, 100)] == "holds (reduced budget)"
    assert full[(40, 100)] == "refuted" and reduced[(40, 100)] == "reversed (reduced budget)"
    assert full[(40, 600)] == "S-VAE better (paper finds no difference)"
    assert reduced[(40, 600)] == "S-VAE better (paper finds no difference) (reduced budget)"
    same = knn.assign(accuracy=80 + 0.1 * rng.normal(size=len(knn)))
    assert table2.table2(same, "full")["verdict"][(40, 600)] == "not significant (as the paper)"


def test_the_claim_in_words_names_the_exceptions_at_d_40():
    assert table2.paper_claim(10) == "the S-VAE's codes classify better (1-NN)"
    assert table2.paper_claim(40) == "the N-VAE's codes classify better with 100 labels; neither classifies better with 600 and 1000 labels (1-NN)"
