"""The low-data chapter's tables, on synthetic stored runs (their statistics against scipy) and
on an empty results store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hvae_lib.experiments import critique_low_data as low
from hvae_lib.stats import holm


def _runs(seed: int = 0) -> pd.DataFrame:
    """Five runs per (model, d, size): the S-VAE 2 nats better at 50k images and 4 at 5k; the
    N-VAE loses two active units at d = 5 with 5k images."""
    rng = np.random.default_rng(seed)
    rows = []
    for images, fraction in ((50000, 1.0), (5000, 0.1)):
        for d in (2, 5):
            for model in ("N-VAE", "S-VAE"):
                for run in range(5):
                    gain = (2.0 if images == 50000 else 4.0) if model == "S-VAE" else 0.0
                    active = d - 2 if (model == "N-VAE" and d == 5 and images == 5000) else d
                    rows.append({
                        "model": model, "d": d, "run": run, "LL": -100.0 + gain + rng.normal(0, 0.5), "KL": 3.0 * d,
                        "best_epoch": 300 + run, "fraction": fraction, "images": images, "active units": active,
                        "z dim": d + (model == "S-VAE"), "KL / d": 3.0, "kappa q10": 10.0, "kappa median": 20.0, "kappa q90": 30.0,
                    })
    return pd.DataFrame(rows)


@pytest.fixture
def synthetic(monkeypatch):
    runs = _runs()
    monkeypatch.setattr(low, "fraction_runs", lambda profile: runs)
    return runs


def test_ll_difference_matches_welch_and_holm(synthetic):
    table = low.ll_difference_table("cpu")
    p = []
    for (d, images), cell in synthetic.groupby(["d", "images"]):
        s = cell.loc[cell["model"] == "S-VAE", "LL"].to_numpy()
        n = cell.loc[cell["model"] == "N-VAE", "LL"].to_numpy()
        p.append(stats.ttest_ind(s, n, equal_var=False).pvalue)
        row = table.loc[(d, images)]
        assert row["S − N"] == f"{s.mean() - n.mean():+.2f}"
        assert row["p"] == f"{p[-1]:.2g}"
        low_end, high_end = (float(v) for v in row["95% interval"].strip("[]").split(", "))
        assert low_end < s.mean() - n.mean() < high_end
    assert list(table["p (Holm)"]) == [f"{v:.2g}" for v in holm(p)]


def test_collapse_verdict_flags_lost_units(synthetic):
    verdict = low.collapse_verdict("cpu")
    assert verdict.loc[2, "N-VAE collapses with less data"] == "no"
    assert verdict.loc[5, "N-VAE collapses with less data"] == "yes"
    assert verdict.loc[5, "N-VAE active units, 5000 images"] == "3.0"
    cell = synthetic[(synthetic["d"] == 2) & (synthetic["images"] == 5000)]
    gap = cell.loc[cell["model"] == "S-VAE", "LL"].mean() - cell.loc[cell["model"] == "N-VAE", "LL"].mean()
    assert verdict.loc[2, "S − N LL, 5000 images"] == f"{gap:+.2f}"


def test_collapse_finding_separates_where_units_collapse_from_where_the_earlier_reversals_were(synthetic):
    text = low.collapse_finding("cpu")
    gap = {images: cell.loc[cell["model"] == "S-VAE", "LL"].mean() - cell.loc[cell["model"] == "N-VAE", "LL"].mean()
           for images, cell in synthetic[synthetic["d"] == 5].groupby("images")}
    assert "loses at least one active unit with less data at d = 5 of the d measured (2, 5)" in text
    assert f"moves by {float(f'{gap[5000]:+.2f}') - float(f'{gap[50000]:+.2f}'):+.2f} nats at d = 5" in text
    assert "Nothing collapses at d = 2, where the earlier reproduction found the N-VAE better" in text
    assert "holds" not in text


def test_collapse_table_reads_kappa_for_the_s_vae_only(synthetic):
    table = low.collapse_table("cpu")
    assert table.loc[(5, 5000, "N-VAE"), "active units"] == "3.0 of 5"
    assert table.loc[(5, 5000, "S-VAE"), "kappa median (q10 to q90)"] == "20 (10 to 30)"
    assert table.loc[(5, 5000, "N-VAE"), "kappa median (q10 to q90)"] == ""
    assert table.loc[(2, 50000, "N-VAE"), "selected epoch"] == "300 to 304"


def test_collapse_table_leaves_out_a_cell_with_one_family(monkeypatch, synthetic):
    lone = synthetic[(synthetic["d"] == 2) & (synthetic["model"] == "S-VAE")].assign(d=1)
    monkeypatch.setattr(low, "fraction_runs", lambda profile: pd.concat([synthetic, lone], ignore_index=True))
    assert 1 not in low.collapse_table("cpu").index.get_level_values("d")


def test_reversal_table_stars_only_a_significant_n_vae_advantage(monkeypatch):
    rng = np.random.default_rng(1)
    rows = []
    for d, s_minus_n in ((2, -10.0), (5, 0.5)):
        for model in ("N-VAE", "S-VAE"):
            for run in range(5):
                rows.append({"model": model, "d": d, "run": run, "labels": 100, "accuracy": 60 + (s_minus_n if model == "S-VAE" else 0) + rng.normal(0, 1)})
    monkeypatch.setattr(low, "_setting_knn", lambda profile: {"clean (this book's code)": pd.DataFrame(rows)})
    table = low.reversal_table("cpu")
    assert table.loc["clean (this book's code)", "d = 2, 100 labels"].endswith("*")
    assert not table.loc["clean (this book's code)", "d = 5, 100 labels"].endswith("*")
    assert table.loc["earlier reproduction (published)", "d = 2, 100 labels"] == "-6.4"
    finding = low.reversal_finding("cpu")
    assert "significantly better at d = 2 with 100 labels." in finding
    assert "d = 5" not in finding


def test_fraction_runs_lists_sizes_the_floor_merges_once(monkeypatch, tmp_path):
    """Under ``smoke`` 30% and 10% of 600 images both become the floor of 500 images."""
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    asked = []

    def fake(profile, fraction, dims=None, models=None, runs=None, train=True):
        asked.append(fraction)
        return pd.DataFrame({"model": ["N-VAE"], "d": [2], "run": [0], "LL": [-1.0], "KL": [2.0], "best_epoch": [1], "protocol": ["p"], "data": ["x"]})

    monkeypatch.setattr(low.low_data, "low_data_runs", fake)
    runs = low.fraction_runs("smoke")
    assert asked == [1.0, 0.3]
    assert sorted(runs["images"]) == [500, 600]
    assert runs["active units"].isna().all()  # no artifact stored in the empty store


def test_empty_store_says_nothing_is_stored(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    for make in (low.ll_difference_table, low.knn_difference_table, low.collapse_table, low.collapse_verdict, low.reversal_table):
        table = make("cpu")
        assert table.iloc[0, 0] == "no stored runs yet", make.__name__


def test_stored_low_data_runs_select_by_d_and_model(monkeypatch):
    frame = pd.DataFrame({"model": ["N-VAE", "S-VAE", "N-VAE"], "d": [2, 2, 5], "LL": [-1.0, -2.0, -3.0]})
    monkeypatch.setattr(low.low_data.table1, "stored_runs", lambda profile, fraction, protocol=None: frame)
    assert len(low.low_data.low_data_runs("full", 0.1, train=False)) == 3
    assert low.low_data.low_data_runs("full", 0.1, dims=(2,), train=False)["LL"].tolist() == [-1.0, -2.0]
    assert low.low_data.low_data_runs("full", 0.1, dims=(2,), models=("S-VAE",), train=False)["LL"].tolist() == [-2.0]


def test_collapse_figure_draws_every_latent_dimension(monkeypatch):
    """Table 1 has five d and the S^(d-1) ablation a sixth: each gets its line and a marker."""
    import matplotlib

    matplotlib.use("Agg")
    runs = pd.concat([_runs().assign(d=lambda f, shift=shift: f["d"] + shift) for shift in (0, 10, 20)], ignore_index=True)
    monkeypatch.setattr(low, "fraction_runs", lambda profile: runs)
    figure = low.collapse_figure("cpu")
    dims = runs["d"].nunique()
    assert dims >= 6 and len(figure.axes[0].lines) == 2 * dims


def test_schedule_settings_change_one_setting_and_the_cache_key():
    from hvae_lib.experiments import low_data_runs, table1

    base = table1.PROFILES["full"].protocol
    tags = {base.tag()}
    for setting in low_data_runs.SCHEDULE_SETTINGS:
        protocol = low_data_runs.schedule_protocol("full", setting)
        changed = {k for k, v in vars(protocol.schedule).items() if getattr(base.schedule, k) != v}
        assert changed == ({"warmup_epochs"} if "warm-up" in setting else {"learning_rate"})
        tags.add(protocol.tag())
    assert len(tags) == 1 + len(low_data_runs.SCHEDULE_SETTINGS)
    assert low_data_runs.schedule_protocol("full", "warm-up three times longer").schedule.warmup_epochs == 300
    smoke = low_data_runs.schedule_protocol("smoke", "warm-up three times longer").schedule
    assert smoke.max_epochs - smoke.warmup_epochs >= smoke.patience
    with pytest.raises(ValueError, match="setting must be one of"):
        low_data_runs.schedule_protocol("full", "batch 32")


def _schedule_runs() -> pd.DataFrame:
    """Five runs per (setting, model) at d = 2: the S-VAE 2 nats better under Table 1's schedule;
    at learning rate 3e-3 the N-VAE gains 5 nats and has the best validation ELBO of its family,
    so the tuned row pairs it with the S-VAE's best (Table 1's). Two S-VAE runs at 3e-3 are cut by
    the 500-epoch limit ten epochs after their best; every other run stops early."""
    rng = np.random.default_rng(3)
    rows = []
    for setting, n_gain, s_gain in ((low.TABLE1_SCHEDULE, 0.0, 2.0), ("learning rate 3e-3", 5.0, -1.0)):
        for model in ("N-VAE", "S-VAE"):
            gain = n_gain if model == "N-VAE" else s_gain
            for run in range(5):
                cut = setting != low.TABLE1_SCHEDULE and model == "S-VAE" and run < 2
                best_epoch = 490 if cut else 150 + 10 * run + (40 if model == "S-VAE" else 0)
                rows.append({
                    "setting": setting, "model": model, "d": 2, "run": run, "LL": -130.0 + gain + rng.normal(0, 0.3),
                    "best_valid_elbo": -135.0 + gain, "best_epoch": best_epoch, "epochs": 500 if cut else best_epoch + 100,
                    "1-NN": 70.0 + rng.normal(0, 1.0),
                })
    return pd.DataFrame(rows)


def test_schedule_table_pairs_each_familys_best_schedule(monkeypatch):
    runs = _schedule_runs()
    monkeypatch.setattr(low, "schedule_runs", lambda profile: runs)
    table = low.schedule_table("cpu")
    tuned = table.loc[(2, low.TUNED_SCHEDULE)]
    n = runs.loc[(runs["setting"] == "learning rate 3e-3") & (runs["model"] == "N-VAE"), "LL"]
    s = runs.loc[(runs["setting"] == low.TABLE1_SCHEDULE) & (runs["model"] == "S-VAE"), "LL"]
    assert tuned["S − N"] == f"{s.mean() - n.mean():+.2f}"
    assert table.loc[(2, low.TABLE1_SCHEDULE), "S − N"].startswith("+")
    finding = low.schedule_finding("cpu")
    assert "the N-VAE does best with learning rate 3e-3 and the S-VAE with Table 1's" in finding
    assert "the N-VAE in learning rate 3e-3, each family's best by validation ELBO." in finding
    assert "explains an N-VAE advantage" in finding
    assert "learning rate 3e-3, S-VAE: 2 of 5." in finding


def test_schedule_finding_says_when_every_run_stopped_early(monkeypatch):
    runs = _schedule_runs()
    runs["epochs"] = runs["best_epoch"] + 100
    monkeypatch.setattr(low, "schedule_runs", lambda profile: runs)
    finding = low.schedule_finding("cpu")
    assert "Every run under every schedule ended by early stopping" in finding
    assert "still improving" not in finding


def test_schedule_selection_shows_what_each_familys_best_was_chosen_from():
    selection = low.schedule_selection("cpu", _schedule_runs())
    assert selection.loc[(2, "learning rate 3e-3"), "N-VAE validation ELBO"] == "-130.00"
    assert selection.loc[(2, low.TABLE1_SCHEDULE), "S-VAE validation ELBO"] == "-133.00"
    assert selection.loc[(2, low.TABLE1_SCHEDULE), "N-VAE selected epoch"] == "170"
    assert selection.loc[(2, low.TABLE1_SCHEDULE), "S-VAE selected epoch"] == "210"


def test_schedule_finding_waits_for_a_second_schedule(monkeypatch):
    runs = _schedule_runs()
    monkeypatch.setattr(low, "schedule_runs", lambda profile: runs[runs["setting"] == low.TABLE1_SCHEDULE])
    assert "not tested yet" in low.schedule_finding("cpu")
