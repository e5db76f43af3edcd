"""The seed-sensitivity designs vary one source of randomness each, and train through run_vae."""

from __future__ import annotations

import pytest

from hvae_lib.experiments import seed_sensitivity as sensitivity


def test_each_design_varies_only_its_source():
    plans = {source: [sensitivity.seed_plan(source, seed) for seed in range(3)] for source in sensitivity.SOURCES}
    varies = lambda values: len(set(values)) > 1
    for source, runs in plans.items():
        init, train, evaluation, streams = zip(*runs)
        assert not varies(evaluation), source
        assert varies(init) == (source in ("initialisation", "everything")), source
        assert varies(train) == (source == "everything"), source
        if source in sensitivity.STREAMS:
            assert {tuple(s) for s in streams} == {(source,)} and varies([s[source] for s in streams])
        else:
            assert all(s == {} for s in streams)
    with pytest.raises(ValueError, match="source"):
        sensitivity.seed_plan("labels", 0)


def test_designs_train_and_tabulate_under_smoke(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setitem(sensitivity.RUNS, "smoke", 2)
    runs = sensitivity.sensitivity_runs("smoke", ("order", "everything"))
    assert sorted(runs["source"].unique()) == ["everything", "order"] and len(runs) == 4
    table = sensitivity.sensitivity_table(runs)
    assert table.loc["everything", sensitivity.RATIO] == "1.00"
    assert runs.groupby("source")["LL"].nunique().tolist() == [2, 2]  # the varied source changes the result


def test_the_chapter_reads_stored_runs_without_training_under_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    assert not sensitivity.TRAINS_HERE["cpu"]
    empty = sensitivity.chapter_runs("cpu")
    assert empty.empty
    assert sensitivity.sensitivity_table(empty)["runs"].tolist() == ["none stored yet"]
    monkeypatch.setitem(sensitivity.RUNS, "smoke", 2)
    trained = sensitivity.sensitivity_runs("smoke", ("order",))
    stored = sensitivity.stored_runs("smoke")
    assert stored[["source", "run", "LL"]].values.tolist() == trained[["source", "run", "LL"]].values.tolist()
    table = sensitivity.sensitivity_table(stored.head(1))
    assert table.loc["order", "LL"].endswith("(1 run)") and table.loc["order", sensitivity.RATIO] == "not measured yet"


def test_the_finding_names_each_sources_share_and_the_missing_designs():
    import pandas as pd

    runs = pd.DataFrame({"source": ["everything"] * 3 + ["order"] * 3, "LL": [-140.0, -141.0, -142.0, -141.0, -141.5, -142.0]})
    text = sensitivity.sensitivity_finding(runs)
    assert "sd of 1.00 nats over 3 runs; order alone 0.50 nats (ratio 0.50, 95% CI " in text
    assert "cannot tell the spread of order alone from the full spread." in text
    assert "Not yet stored: initialisation" in text
    partial = sensitivity.sensitivity_finding(runs[runs["source"] == "order"])
    assert partial.startswith("The sd of the test LL so far: order alone 0.50 nats over 3 runs. ")
    assert partial.endswith("not yet stored: initialisation, binarization, noise, everything.")
    assert sensitivity.sensitivity_finding(runs.iloc[:0]).startswith("Without the design that varies everything")


def test_the_finding_tests_each_source_against_the_full_spread_and_adds_the_variances():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    spreads = {"initialisation": 1.0, "order": 1.0, "binarization": 0.02, "noise": 1.0, "everything": 1.0}
    runs = pd.concat([pd.DataFrame({"source": source, "LL": -140 + sd * rng.standard_normal(10), "ELBO": -145.0, "best_epoch": 200})
                      for source, sd in spreads.items()])
    table = sensitivity.sensitivity_table(runs)
    assert float(table.loc["binarization", sensitivity.RATIO_P]) < 0.05 and float(table.loc["order", sensitivity.RATIO_P]) > 0.05
    assert table.loc["everything", sensitivity.RATIO_P] == ""
    text = sensitivity.sensitivity_finding(runs)
    assert "cannot tell the spread of initialisation, order and noise alone from the full spread; binarization alone gives a smaller one." in text
    assert "do not add as independent parts would" in text and "Not yet stored" not in text
