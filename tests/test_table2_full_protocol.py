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
