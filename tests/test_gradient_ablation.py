"""The g_cor ablation's table: paired by run, its statistics against scipy, and what it says
before any full-gradient run exists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hvae_lib.experiments import gradient_ablation as ablation
from hvae_lib.experiments import table1


def _runs(pairs: int, unpaired_precision: bool = False) -> pd.DataFrame:
    """Five g_rep runs at d = 10 and ``pairs`` full-gradient runs, 0.3 nats better each with
    noise; with ``unpaired_precision`` the full-gradient runs were trained in another precision."""
    rng = np.random.default_rng(0)
    official = [{"gradient": ablation.OFFICIAL, "d": 10, "run": r, "LL": -93.6 + rng.normal(0, 0.2), "precision": "bfloat16"} for r in range(5)]
    full = [{**row, "gradient": ablation.FULL, "LL": row["LL"] + 0.3 + rng.normal(0, 0.1),
             "precision": "float32" if unpaired_precision else "bfloat16"} for row in official[:pairs]]
    frame = pd.DataFrame(official + full)
    return frame.assign(ELBO=frame["LL"] - 4.5, KL=20.0 + frame["run"] * 0.01)


def test_table_pairs_runs_and_matches_scipy(monkeypatch):
    runs = _runs(4)
    monkeypatch.setattr(ablation, "gradient_runs", lambda profile, train=False: runs)
    row = ablation.gradient_table("full").loc[(10, "LL")]
    full = runs[runs["gradient"] == ablation.FULL].set_index("run")["LL"]
    official = runs[runs["gradient"] == ablation.OFFICIAL].set_index("run")["LL"].loc[full.index]
    assert row["runs"] == "4 paired"
    assert row["full − g_rep"] == f"{(full - official).mean():+.2f}"
    assert row["paired p"] == f"{stats.ttest_rel(full, official).pvalue:.3f}"
    assert row["S-VAE, g_rep"] == f"{official.mean():.2f} ± {official.std():.2f}"
    low, high = (float(v) for v in row["95% interval"].strip("[]").split(", "))
    assert low < (full - official).mean() < high
    assert "wins 4 of 4" in ablation.summary("full")


@pytest.mark.parametrize("pairs, unpaired_precision", [(0, False), (1, False), (4, True)])
def test_table_says_what_is_missing_without_pairs(monkeypatch, pairs, unpaired_precision):
    """No full-gradient run, one, or runs in another precision: no statistic, the stored g_rep
    runs still shown, and no NaN reaches the table."""
    monkeypatch.setattr(ablation, "gradient_runs", lambda profile, train=False: _runs(pairs, unpaired_precision))
    table = ablation.gradient_table("full")
    assert not table.isna().to_numpy().any()
    assert table.loc[(10, "LL"), "paired p"] == "—"
    assert table.loc[(10, "LL"), "S-VAE, g_rep"].startswith("-93.")
    assert table.loc[(2, "every gradient"), "full − g_rep"] == "0 exactly"
    assert "not yet trained" in ablation.summary("full")


def test_empty_store_gives_a_table_without_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    table = ablation.gradient_table("smoke")
    assert table.loc[(10, "LL"), "S-VAE, g_rep+g_cor"] == "not yet trained"


def test_full_gradient_protocol_changes_only_the_gradient():
    protocol = table1.PROFILES["full"].protocol
    full = ablation.full_gradient_protocol("full")
    assert full.schedule.gradient == "g_rep+g_cor" and full.tag() != protocol.tag()
    assert full.schedule == protocol.schedule.__class__(**{**protocol.schedule.__dict__, "gradient": "g_rep+g_cor"})
