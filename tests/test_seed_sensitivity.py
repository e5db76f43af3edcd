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
