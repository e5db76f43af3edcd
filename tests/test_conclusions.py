"""The conclusions' Table 3 rows: one per cell and rival pairing, worded by budget."""

from __future__ import annotations

import pandas as pd

from hvae_lib.experiments import conclusions, table3


def _runs(accuracies: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"configuration": c, "z1": 5, "z2": 10, "run": r, "test accuracy": a} for c, values in accuracies.items() for r, a in enumerate(values)]
    rows.append({"configuration": table3.ANCHOR, "z1": 50, "z2": 50, "run": 0, "test accuracy": 96.0})
    return pd.DataFrame(rows)


def test_without_runs_table3_is_one_not_yet_run_row(monkeypatch):
    monkeypatch.setattr(table3, "stored_runs", lambda profile: pd.DataFrame())
    frame = conclusions.table3_conclusions("cpu")
    assert frame[["claim", "runs", "verdict"]].values.tolist() == [["Table 3: S+N is the best pairing", "none yet", "not yet run"]]


def test_each_rival_pairing_is_a_claim_with_the_papers_difference(monkeypatch):
    runs = _runs({"S+N": [95.0, 95.2, 94.9], "N+N": [90.0, 90.3, 89.8], "S+S": [95.1, 94.8, 95.3]})
    monkeypatch.setattr(table3, "stored_runs", lambda profile: runs)
    frame = conclusions.table3_conclusions("cpu").set_index("claim")
    better = frame.loc["Table 3, z1 = 5, z2 = 10: S+N is better than N+N"]
    assert (better["verdict"], better["runs"], better["ours (S − N)"], better["paper (S − N)"]) == ("holds (reduced budget)", "3 + 3 runs", "+5.0", "+4.1")
    assert frame.loc["Table 3, z1 = 5, z2 = 10: S+N is better than S+S", "verdict"] == "not significant"
    assert "100 M2 epochs" in better["protocol"]
    assert conclusions.table3_conclusions("full").set_index("claim").loc["Table 3, z1 = 5, z2 = 10: S+N is better than N+N", "verdict"] == "confirmed"


def test_a_significantly_worse_s_plus_n_is_a_reversal_not_a_missing_result(monkeypatch):
    runs = _runs({"S+N": [85.0, 85.4, 84.9], "N+N": [90.0, 90.3, 89.8], "S+S": [85.1, 84.8, 85.3]})
    monkeypatch.setattr(table3, "stored_runs", lambda profile: runs)
    claim = "Table 3, z1 = 5, z2 = 10: S+N is better than N+N"
    assert conclusions.table3_conclusions("cpu").set_index("claim").loc[claim, "verdict"] == "reversed (reduced budget)"
    assert conclusions.table3_conclusions("full").set_index("claim").loc[claim, "verdict"] == "refuted"


def test_the_cost_of_the_grid_comes_from_the_stored_wall_times(monkeypatch):
    cells = [("N+N", 5, 5, 160.0), ("S+N", 50, 50, 590.0)]
    runs = pd.DataFrame([{"configuration": c, "z1": a, "z2": b, "run": r, "epochs": 100, "wall_s": wall, "ensemble_runs": 3} for c, a, b, wall in cells for r in range(3)])
    monkeypatch.setattr(table3, "stored_runs", lambda profile: runs)
    reading = conclusions.table3_cost("cpu")
    assert "takes 4.8 s (N+N at z1 = 5, z2 = 5) to 17.7 s (S+N at z1 = 50, z2 = 50), over the 2 cells" in reading
    # 27 cells x 100 epochs at 4.8 and 17.7 s; the full protocol: 1000 epochs, 5 runs instead of 3.
    assert "are 4 to 13 hours" in reading and "(5 runs, 1000 epochs) 60 to 221 hours" in reading
    monkeypatch.setattr(table3, "stored_runs", lambda profile: pd.DataFrame())
    assert "not measured" in conclusions.table3_cost("cpu")


def test_one_cell_gives_one_rate(monkeypatch):
    runs = pd.DataFrame([{"configuration": "N+N", "z1": 5, "z2": 5, "run": r, "epochs": 100, "wall_s": 476.7, "ensemble_runs": 3} for r in range(3)])
    monkeypatch.setattr(table3, "stored_runs", lambda profile: runs)
    reading = conclusions.table3_cost("cpu")
    assert "takes 14.3 s (N+N at z1 = 5, z2 = 5, the one cell trained so far)" in reading
    assert "are about 11 hours" in reading and "about 179 hours" in reading


def test_the_cost_says_it_includes_the_m1_a_job_trained(monkeypatch):
    runs = pd.DataFrame([{"configuration": "S+N", "z1": 5, "z2": 5, "run": r, "epochs": 100, "wall_s": 1106.7, "ensemble_runs": 3} for r in range(3)])
    monkeypatch.setattr(table3, "stored_runs", lambda profile: runs)
    text = conclusions.table3_cost("cpu")
    assert "takes 33.2 s (S+N at z1 = 5, z2 = 5, the one cell trained so far)" in text
    assert text.endswith("includes training the cell's M1 where no earlier job had (M2's own time was not yet recorded), so it overstates M2's cost.")
