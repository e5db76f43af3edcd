"""The audit chapter's measurements that need no trained model, and its register without runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hvae_lib.experiments import critique_audit


@pytest.mark.parametrize("kappa", [2.0, 10.0, 100.0])
def test_circle_table_matches_monte_carlo_circular_sd(kappa):
    """Circular sd sqrt(-2 log R) of 200k seeded draws of scipy's von Mises and of a wrapped
    normal with sd 1/kappa, within 1%."""
    rng = np.random.default_rng(0)
    vmf = stats.vonmises(kappa).rvs(200_000, random_state=rng)
    wrapped = rng.normal(0.0, 1 / kappa, 200_000)
    circular_sd = lambda angles: math.sqrt(-2 * math.log(abs(np.exp(1j * angles).mean())))
    row = critique_audit.circle_sampler_table((kappa,)).iloc[0]
    assert float(row["vMF circular sd (rad)"]) == pytest.approx(circular_sd(vmf), rel=1e-2)
    assert float(row["wrapped Gaussian sd (rad)"]) == pytest.approx(circular_sd(wrapped), rel=1e-2)


def test_register_without_runs_says_what_is_not_measured(tmp_path, monkeypatch):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(critique_audit, "table1_models", lambda profile: critique_audit.stored_runs("smoke"))
    register = critique_audit.register("smoke")
    assert len(register) == 17
    assert not register.isna().to_numpy().any()
    measured = register["measured here"]
    assert measured.str.contains("not yet measured").sum() >= 6
    # Closed-form rows are measured without any run.
    assert measured.str.contains("m = 74").any()
    assert measured.str.contains("-13.52 at d = 40").any()


def test_training_defect_rows_give_the_ll_change_against_the_correct_code(monkeypatch):
    """The register's trained-defect rows: mean LL of the defect's runs minus the correct
    code's in the same (model, d), and the mean selected epochs, from synthetic stored runs."""
    rng = np.random.default_rng(3)
    defect = {"model": ["N-VAE"] * 3 + ["S-VAE"] * 2, "d": [2] * 5, "LL": rng.normal(-150, 1, 5), "best_epoch": [100, 102, 104, 90, 110]}
    clean = {"model": ["N-VAE"] * 4 + ["S-VAE"] * 4, "d": [2] * 8, "LL": rng.normal(-143, 1, 8), "best_epoch": [200] * 4 + [250] * 4}
    defect, clean = pd.DataFrame(defect), pd.DataFrame(clean)
    monkeypatch.setattr(critique_audit.low_data, "defect_runs", lambda profile, name, train: defect)
    monkeypatch.setattr(critique_audit.low_data, "low_data_runs", lambda profile, fraction, dims, train: clean)
    summary = critique_audit.training_defect_summary("full", "fixed binarisation")
    n_change = defect["LL"][:3].mean() - clean["LL"][:4].mean()
    s_change = defect["LL"][3:].mean() - clean["LL"][4:].mean()
    assert f"N-VAE d = 2: {n_change:+.1f} nats (3 vs 4 runs; selected epoch 102 vs 200)" in summary
    assert f"S-VAE d = 2: {s_change:+.1f} nats (2 vs 4 runs; selected epoch 100 vs 250)" in summary


def test_training_defect_rows_without_a_correct_twin_say_so(monkeypatch):
    defect = pd.DataFrame({"model": ["N-VAE"], "d": [5], "LL": [-120.0], "best_epoch": [100]})
    monkeypatch.setattr(critique_audit.low_data, "defect_runs", lambda profile, name, train: defect)
    monkeypatch.setattr(critique_audit.low_data, "low_data_runs", lambda profile, fraction, dims, train: pd.DataFrame())
    assert critique_audit.training_defect_summary("full", "fixed binarisation").startswith("not yet measured")
