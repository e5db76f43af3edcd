"""The follow-up's design ablations: each variant switches the setting it names, and the table's
tests and verdicts follow from synthetic runs (against scipy's Welch test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hvae_lib.experiments import followup_compressed_vae as chapter
from hvae_lib.experiments import followup_runs
from hvae_lib.stats import holm

FID = f"fid | {chapter.PAPER_SAMPLER['compressed']}"


def test_each_variant_switches_one_setting_of_the_code_variant(monkeypatch):
    calls = []
    monkeypatch.setattr(followup_runs, "run_models", lambda *args, **kwargs: calls.append((args, kwargs)) or pd.DataFrame({"run": [0]}))
    runs = followup_runs.ablation_runs("smoke")
    baseline, *variants = calls
    assert baseline[1] == {"tsne": True} and baseline[0][:3] == ("smoke", "mnist", "compressed")
    assert all(args == baseline[0] for args, _ in variants)
    switched = {(tuple(kw["loss_switches"].items()), kw["annealing"]) for _, kw in variants}
    assert switched == {((), "none"), ((), "hold"), ((("gain_order", "reversed"),), "code"), ((("gain_order", "constant"),), "code"),
                        ((("compress", "half"),), "code"), ((("compress", "first"),), "code")}
    assert runs["variant"].iloc[0] == followup_runs.ABLATION_BASELINE and len(runs) == 7


def _synthetic(shift: dict[str, float]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    variants = [("", followup_runs.ABLATION_BASELINE)] + [(c, v) for c, (_, vs) in followup_runs.ABLATIONS.items() for v in vs]
    for claim, variant in variants:
        for run in range(4):
            rows.append({"claim": claim, "variant": variant, "run": run, FID: 100 + shift.get(variant, 0.0) + rng.normal(0, 1),
                         "mse_pixel": 0.05, "knn_1": 0.9})
    return pd.DataFrame(rows)


def test_the_table_tests_each_variant_against_the_baseline_with_welch_and_holm(monkeypatch):
    runs = _synthetic({"no annealing": 20.0, "annealing held at 11": 25.0, "gains reversed": -15.0})
    monkeypatch.setattr(chapter, "ablation_runs", lambda profile: runs)
    table = chapter.ablation_table("cpu")
    base = runs.loc[runs["variant"] == followup_runs.ABLATION_BASELINE, FID]
    others = runs[runs["variant"] != followup_runs.ABLATION_BASELINE]
    p = [stats.ttest_ind(part[FID], base, equal_var=False).pvalue for _, part in others.groupby("variant", sort=False)]
    assert table["p"].iloc[1:].tolist() == [f"{v:.2g}" for v in p]
    assert table["p (Holm)"].iloc[1:].tolist() == [f"{v:.2g}" for v in holm(p)]
    verdicts = chapter.ablation_verdicts("cpu")["verdict"].tolist()
    assert verdicts == ["holds (reduced budget)", "reversed (reduced budget)", "not significant"]
    assert chapter.ablation_verdicts("full")["verdict"].tolist()[:2] == ["confirmed", "refuted"]


def test_one_run_per_variant_is_untested_not_a_verdict(monkeypatch):
    runs = _synthetic({}).groupby("variant", sort=False).head(1)
    monkeypatch.setattr(chapter, "ablation_runs", lambda profile: runs)
    assert set(chapter.ablation_table("smoke")["p"].iloc[1:]) == {"one run"}
    assert set(chapter.ablation_verdicts("smoke")["verdict"]) == {"untested (one run per variant)"}
