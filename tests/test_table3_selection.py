"""Table 3 read at each run's best validation epoch, on curves written by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from hvae_lib.experiments import table3, table3_selection

# (valid, test) per evaluated epoch 5, 10, 15; run 1 is run 0 with its test accuracies + 1.
CURVES = {
    "N+N": ([80, 85, 84], [81, 86, 83]),  # best at 10, then falls
    "S+S": ([88, 84, 88], [89, 85, 84]),  # ties at 5 and 15: the first is the best
    "S+N": ([70, 80, 90], [71, 82, 88]),  # still rising: best is last
}


@pytest.fixture
def runs(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    store = table3.table3_store("smoke")
    rows = []
    for pairing, (valid, test) in CURVES.items():
        for run in (0, 1):
            path = store.artifact_path(table3.cell_config("smoke", pairing, 5, 5), run, "curve.csv")
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"epoch": [5, 10, 15], "valid": valid, "test": [t + run for t in test]}).to_csv(path, index=False)
            rows.append({"configuration": pairing, "z1": 5, "z2": 5, "run": run, "test accuracy": test[-1] + run})
    return pd.DataFrame(rows)


def test_each_run_is_read_at_its_first_best_validation_epoch(runs):
    selected = table3_selection.run_selection("smoke", runs).set_index(["pairing", "run"])
    assert selected.loc[("N+N", 0), ["best epoch", "at best", "final"]].tolist() == [10, 86, 83]
    assert selected.loc[("S+S", 1), ["best epoch", "at best", "final"]].tolist() == [5, 90, 85]
    assert selected.loc[("S+N", 0), ["best epoch", "at best", "final"]].tolist() == [15, 88, 88]
    # The final reading is the accuracy Table 3 reports.
    assert (selected["final"].to_numpy() == runs.set_index(["configuration", "run"])["test accuracy"].to_numpy()).all()


def test_the_table_gives_both_readings_and_their_change(runs):
    row = table3_selection.selection_table("smoke", runs).loc[("N+N", 5, 5)]
    assert row["runs"] == 2 and row["best validation epoch"] == "10"
    assert row["test at that epoch"] == "86.5 ± 0.7" and row["test after the last epoch"] == "83.5 ± 0.7"
    assert row["last − best epoch"] == "-3.0"


def test_the_reading_names_a_change_of_leader(runs):
    text = table3_selection.selection_reading("smoke", runs)
    assert "S+N leads 1 after the last epoch and 0 at the runs' best validation epochs" in text
    assert "z1 = 5, z2 = 5 (S+N after the last epoch, S+S at the best)" in text
    assert "S+S (2 runs): best validation epoch 5 in every run" in text and "by -5.0 points on average" in text


def test_without_runs_both_say_so():
    empty = pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])
    assert "no cell of the grid" in table3_selection.selection_table("smoke", empty).to_string()
    assert table3_selection.selection_reading("smoke", empty) == "No cell of the grid has runs yet."


def test_a_change_that_rounds_to_zero_reads_plus_zero():
    assert table3_selection._signed(-0.04) == "+0.0" and table3_selection._signed(-0.05) == "-0.1"
