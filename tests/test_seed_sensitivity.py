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
    assert table.loc["everything", "sd of LL / sd with everything varied"] == "1.00"
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
    assert table.loc["order", "LL"].endswith("(1 run)") and table.loc["order", "sd of LL / sd with everything varied"] == "not measured yet"


def test_the_finding_names_each_sources_share_and_the_missing_designs():
    import pandas as pd

    runs = pd.DataFrame({"source": ["everything"] * 3 + ["order"] * 3, "LL": [-140.0, -141.0, -142.0, -141.0, -141.5, -142.0]})
    text = sensitivity.sensitivity_finding(runs)
    assert "sd of 1.00 nats over 3 runs; order alone 0.50 nats (50%)." in text
    assert "Not yet stored: initialisation" in text
    partial = sensitivity.sensitivity_finding(runs[runs["source"] == "order"])
    assert partial.startswith("The sd of the test LL so far: order alone 0.50 nats over 3 runs. ")
    assert partial.endswith("not yet stored: initialisation, binarization, noise, everything.")
    assert sensitivity.sensitivity_finding(runs.iloc[:0]).startswith("Without the design that varies everything")
