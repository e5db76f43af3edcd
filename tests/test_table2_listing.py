"""Table 2's runs.csv lists every stored model, whichever caller wrote it."""

from __future__ import annotations

import pandas as pd

from hvae_lib.experiments import table2


def _fake_store(monkeypatch, tmp_path):
    stored = pd.DataFrame({"model": ["N-VAE"] * 5, "d": [2] * 5, "run": range(5), "protocol": "p", "data": "x"})
    for run in range(5):
        pd.DataFrame({"labels": [100], "draw": [0], "k": [1], "metric": ["euclidean"], "accuracy": [50.0 + run]}).to_csv(tmp_path / f"{run}.csv", index=False)
    monkeypatch.setattr(table2, "table1_runs", lambda profile: stored.head(3))
    monkeypatch.setattr(table2, "stored_runs", lambda profile: stored)
    monkeypatch.setattr(table2, "run_artifact", lambda profile, run, name: tmp_path / f"{run.run}.csv")
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path / "results"))


def test_the_listing_is_the_same_from_either_caller(monkeypatch, tmp_path):
    _fake_store(monkeypatch, tmp_path)
    chosen = table2.table2_runs("smoke")
    listing = pd.read_csv(table2.RunStore("table2", "smoke").folder / "runs.csv")
    assert sorted(chosen["run"]) == [0, 1, 2]
    everything = table2.table2_runs("smoke", train=False)
    assert sorted(everything["run"]) == [0, 1, 2, 3, 4]
    again = pd.read_csv(table2.RunStore("table2", "smoke").folder / "runs.csv")
    assert sorted(listing["run"]) == [0, 1, 2, 3, 4] and listing.equals(again)
    assert chosen.loc[chosen["run"] == 2, "accuracy"].item() == 52.0
