"""Table 1 at the paper's protocol: its claims on the finished cells, and the importance-sampling
gain (LL - ELBO) against the paper's, from synthetic runs."""

import numpy as np
import pandas as pd
import pytest

from hvae_lib.experiments import table1


def _runs(cells):
    rows = []
    for (model, d), (ll, elbo) in cells.items():
        for run, jitter in enumerate((-0.1, 0.0, 0.1)):
            rows.append({"model": model, "d": d, "run": run, "LL": ll + jitter, "ELBO": elbo + 2 * jitter})
    return pd.DataFrame(rows)


@pytest.fixture
def stored(monkeypatch):
    paper = table1.PAPER
    cells = {
        # The ELBO agrees with the paper's, the LL is 2 nats lower: the gain differs.
        ("S-VAE", 20): (paper.loc[("S-VAE", 20), "LL"] - 2.0, paper.loc[("S-VAE", 20), "ELBO"] + 0.1),
        # Both 1 nat higher than the paper's: the same gain.
        ("N-VAE", 20): (paper.loc[("N-VAE", 20), "LL"] + 1.0, paper.loc[("N-VAE", 20), "ELBO"] + 1.0),
    }
    frame = _runs(cells)
    monkeypatch.setattr(table1, "stored_runs", lambda profile: frame)
    return frame


def test_gain_table_matches_the_runs_and_the_paper(stored):
    table = table1.importance_gain_table()
    row = table.loc[(20, "S-VAE")]
    gain = stored.loc[stored["model"] == "S-VAE", "LL"] - stored.loc[stored["model"] == "S-VAE", "ELBO"]
    assert row["LL − ELBO (ours)"] == f"{gain.mean():.2f} ± {np.std(gain, ddof=1):.2f}"
    paper = table1.PAPER.loc[("S-VAE", 20)]
    assert row["LL − ELBO (paper)"] == f"{paper['LL'] - paper['ELBO']:.2f}"
    assert row["ELBO: ours − paper"] == "+0.10" and row["LL: ours − paper"] == "-2.00"
    assert table.loc[(40, "N-VAE"), "LL − ELBO (ours)"] == "not yet run"
    assert not table.isna().to_numpy().any() and len(table) == 2 * len(table1.PROFILES["full"].dims)


def test_finding_names_only_cells_whose_bound_agrees_but_ll_does_not(stored):
    finding = table1.importance_gain_finding()
    assert "the S-VAE at d = 20 (ELBO +0.10, LL -2.00" in finding
    assert "N-VAE at d = 20" not in finding


def test_an_empty_store_gives_a_full_table_and_says_so(monkeypatch):
    monkeypatch.setattr(table1, "stored_runs", lambda profile: pd.DataFrame(columns=["model", "d", "run", "LL", "ELBO"]))
    assert table1.importance_gain_finding().startswith("No cell")
    assert (table1.importance_gain_table()["LL − ELBO (ours)"] == "not yet run").all()


def test_full_protocol_claims_test_only_dimensions_with_both_families(monkeypatch):
    rng = np.random.default_rng(5)
    rows = [{"model": m, "d": d, "run": r, "LL": -100 + rng.normal(), "RE": -90 + rng.normal(), "ELBO": -105.0}
            for m, d, n in (("N-VAE", 5, 3), ("S-VAE", 5, 3), ("N-VAE", 10, 3), ("S-VAE", 10, 1)) for r in range(n)]
    frame = pd.DataFrame(rows)
    monkeypatch.setattr(table1, "stored_runs", lambda profile: frame)
    verdicts = table1.full_protocol_claims()
    assert set(verdicts.index.get_level_values("d")) == {5}
    assert verdicts.equals(table1.claims(frame[frame["d"] == 5], "full"))


def test_full_protocol_claims_without_finished_dimensions_say_so(monkeypatch):
    monkeypatch.setattr(table1, "stored_runs", lambda profile: pd.DataFrame(columns=["model", "d", "run", "LL", "RE", "ELBO"]))
    assert table1.full_protocol_claims()["verdict"].iloc[0].startswith("no d has two runs")


def test_progress_groups_dimensions_by_runs_stored_and_says_whether_verdicts_may_change(monkeypatch):
    setup = table1.PROFILES["full"]
    counts = {("N-VAE", d): setup.runs for d in setup.dims} | {("S-VAE", d): 5 for d in setup.dims} | {("N-VAE", setup.dims[-1]): 5}
    frame = pd.DataFrame([{"model": m, "d": d, "run": r} for (m, d), n in counts.items() for r in range(n)])
    monkeypatch.setattr(table1, "stored_runs", lambda profile: frame)
    text = table1.full_protocol_progress()
    head = ", ".join(map(str, setup.dims[:-1]))
    assert f"N-VAE: {setup.runs} of {setup.runs} runs at d = {head}; 5 of {setup.runs} runs at d = {setup.dims[-1]}." in text
    assert f"S-VAE: 5 of {setup.runs} runs at d = {', '.join(map(str, setup.dims))}." in text
    assert "may still change" in text
    complete = pd.DataFrame([{"model": m, "d": d, "run": r} for m in table1.MODELS for d in setup.dims for r in range(setup.runs)])
    monkeypatch.setattr(table1, "stored_runs", lambda profile: complete)
    assert table1.full_protocol_progress().endswith("Every cell has all its runs.")
    monkeypatch.setattr(table1, "stored_runs", lambda profile: complete.iloc[:0])
    assert f"0 of {setup.runs} runs at d = " in table1.full_protocol_progress()
