"""The audit chapter's measurements that need no trained model, and its register without runs."""

from __future__ import annotations

import math

import numpy as np
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
    assert len(register) == 15
    assert not register.isna().to_numpy().any()
    measured = register["measured here"]
    assert measured.str.contains("not yet measured").sum() >= 4
    # Closed-form rows are measured without any run.
    assert measured.str.contains("m = 74").any()
    assert measured.str.contains("-13.52 at d = 40").any()
