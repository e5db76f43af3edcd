"""Table 4's claim tests: paired by run (each seed's edge split is shared by both models)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hvae_lib.experiments import table4


def _runs(n_auc, s_auc, dataset="Cora"):
    rows = []
    for run, (n, s) in enumerate(zip(n_auc, s_auc)):
        rows.append({"dataset": dataset, "model": "N-VGAE", "run": run, "AUC": n, "AP": n + 1.0})
        rows.append({"dataset": dataset, "model": "S-VGAE", "run": run, "AUC": s, "AP": s + 1.0})
    return pd.DataFrame(rows)


def test_paired_p_is_scipys_paired_test(monkeypatch):
    rng = np.random.default_rng(4)
    n = 90 + rng.normal(0, 1, 10)
    s = n + 0.8 + rng.normal(0, 0.5, 10)
    monkeypatch.setattr(table4, "table4_runs", lambda profile: _runs(n, s))
    table = table4.paired_tests("smoke")
    expected = stats.ttest_rel(s, n).pvalue
    assert table.loc[("Cora", "AUC"), "p (paired)"] == f"{expected:.2g}"
    assert table.loc[("Cora", "AUC"), "S wins"] == f"{int((s > n).sum())} of 10"


def test_constant_differences_give_no_verdict_and_no_nan(monkeypatch):
    n = np.linspace(90, 92, 5)
    monkeypatch.setattr(table4, "table4_runs", lambda profile: _runs(n, n + 1.0))
    table = table4.paired_tests("smoke")
    row = table.loc[("Cora", "AUC")]
    assert row["p (paired)"] == "n/a" and row["p (Holm)"] == "n/a"
    assert row["verdict"] == "inconclusive"
    assert not table.astype(str).apply(lambda c: c.str.contains("nan")).any().any()
