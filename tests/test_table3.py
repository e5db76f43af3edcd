"""Table 3's runs on synthetic M1 codes: which labels training sees, the label draws, and the
cache key."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from hvae_lib.experiments import table3
from hvae_lib.training.m2_training import Codes, M2Schedule


def _codes(latent: str, n: dict[str, int], dim: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)
    out = {}
    for split, size in n.items():
        loc = torch.randn(size, dim, generator=g)
        if latent == "normal":
            loc[:, -1] = 0.01 * loc[:, -1]  # one near-constant coordinate, pruned
            out[split] = Codes(latent, loc, torch.full_like(loc, 0.1))
        else:
            out[split] = Codes(latent, torch.nn.functional.normalize(loc, dim=1), torch.full((size,), 20.0))
        out[f"{split} labels"] = torch.arange(size) % 10
    return out


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    setup = replace(table3.PROFILES["smoke"], schedule=M2Schedule(epochs=1, batches=10, evaluate_every=1), hidden=8, prune_threshold=0.1)
    monkeypatch.setitem(table3.PROFILES, "smoke", setup)
    monkeypatch.setattr(table3, "m1_codes", lambda profile, model, z1, protocol=None: _codes(table3.table1.MODELS[model], {"train": 300, "valid": 50, "test": 60}))
    calls = []
    real = table3.train_m2

    def spy(model, codes, labelled, labels, unlabelled, schedule, seeds, evaluate=None):
        calls.append(dict(codes=codes, labelled=labelled, labels=labels, unlabelled=unlabelled))
        return real(model, codes, labelled, labels, unlabelled, schedule, seeds, evaluate)

    monkeypatch.setattr(table3, "train_m2", spy)
    return calls


def test_training_sees_only_the_drawn_training_labels(tiny):
    runs = table3.table3_runs("smoke", [("N+N", 5, 5)])
    (call,) = tiny
    train_labels = torch.arange(300) % 10
    assert torch.equal(call["labels"], train_labels[call["labelled"]])
    for r in range(2):
        labelled, unlabelled = set(call["labelled"][r].tolist()), set(call["unlabelled"][r].tolist())
        assert not labelled & unlabelled and labelled | unlabelled == set(range(300))
        assert torch.bincount(train_labels[call["labelled"][r]], minlength=10).tolist() == [10] * 10
    assert not torch.equal(call["labelled"][0], call["labelled"][1])  # a new label draw per run
    assert call["codes"].dim == 3  # the near-constant coordinate pruned
    assert runs["test accuracy"].between(0, 100).all() and len(runs) == 2


def test_a_hyperspherical_m1_is_not_pruned(tiny):
    runs = table3.table3_runs("smoke", [("S+N", 5, 5)])
    assert tiny[0]["codes"].dim == 4 and (runs["M1 coordinates"] == 4).all()


def test_every_setting_enters_the_cell_key(monkeypatch):
    base = table3.cell_config("smoke", "N+N", 5, 5)
    assert table3.cell_config("smoke", "S+N", 5, 5) != base
    assert table3.cell_config("smoke", "N+N", 5, 10) != base
    assert table3.cell_config("smoke", "N+N", 5, 5, precision="bfloat16") != base
    schedule = table3.PROFILES["smoke"].schedule
    for change in (dict(hidden=7), dict(labels=200), dict(prune_threshold=0.1), dict(schedule=M2Schedule(epochs=3, batches=10)), dict(schedule=replace(schedule, precision="bfloat16"))):
        monkeypatch.setitem(table3.PROFILES, "smoke", replace(table3.PROFILES["smoke"], **change))
        assert table3.cell_config("smoke", "N+N", 5, 5) != base, change
        monkeypatch.undo()


def test_the_precision_ablation_pairs_runs_and_the_chapter_prefers_the_profiles_precision(tiny, monkeypatch):
    assert "no cell has runs in both precisions" in table3.precision_ablation("smoke").to_string()
    exact = table3.table3_runs("smoke", [("N+N", 5, 5)])
    fast = table3.table3_runs("smoke", [("N+N", 5, 5)], precision="bfloat16")
    assert (exact["precision"] == "float32").all() and (fast["precision"] == "bfloat16").all()
    monkeypatch.setitem(table3.TRAINS_HERE, "smoke", False)
    shown = table3.chapter_runs("smoke")
    assert len(shown) == 2 and (shown["precision"] == "float32").all()
    table3.table3_runs("smoke", [("S+N", 5, 5)], precision="bfloat16")  # a cell trained only in the other precision counts
    shown = table3.chapter_runs("smoke").set_index(["configuration", "run"])["precision"]
    assert shown.to_dict() == {("N+N", 0): "float32", ("N+N", 1): "float32", ("S+N", 0): "bfloat16", ("S+N", 1): "bfloat16"}
    ablation = table3.precision_ablation("smoke")
    assert ablation.index.tolist() == [("N+N", 5, 5)] and ablation["runs"].tolist() == [2]
    difference = (fast["test accuracy"] - exact["test accuracy"]).mean()
    assert ablation["bfloat16 − float32"].iloc[0].startswith(f"{difference:+.2f}")


def test_the_anchor_has_kingmas_m1_and_its_own_key():
    anchor = table3.cell_config("smoke", table3.ANCHOR, 50, 50)
    assert anchor != table3.cell_config("smoke", "N+N", 50, 50)
    protocol = table3.m1_protocol("full", table3.ANCHOR)
    assert protocol.hidden == (600, 600) and protocol.activation == "softplus" and protocol.schedule.learning_rate == 3e-4
    assert table3.m1_protocol("full", "N+N") == table3.table1.PROFILES["full"].protocol


def test_the_anchor_trains_under_smoke(monkeypatch, tmp_path):
    """Two epochs leave no coordinate of the smoke M1 active, so smoke does not prune."""
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    assert table3.PROFILES["smoke"].prune_threshold is None
    runs = table3.anchor_runs("smoke")
    assert len(runs) == table3.PROFILES["smoke"].runs and runs["test accuracy"].between(0, 100).all()
    assert (runs["M1 coordinates"] <= 50).all()


def test_a_collapsed_m1_is_refused_clearly(monkeypatch):
    monkeypatch.setitem(table3.PROFILES, "smoke", replace(table3.PROFILES["smoke"], prune_threshold=0.1))
    codes = _codes("normal", {"train": 30, "valid": 5, "test": 5})
    flat = {**codes, "train": Codes("normal", torch.zeros(30, 4), torch.ones(30, 4))}
    with pytest.raises(ValueError, match="collapsed"):
        table3.pruned("smoke", flat)


def test_status_counts_complete_cells_and_names_the_budget():
    import pandas as pd

    setup = table3.PROFILES["cpu"]
    empty = pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])
    assert f"Cells with all their runs: 0 of 27; with at least one run: 0; the anchor ({table3.KINGMA_M2['cpu'].epochs} M2 epochs) has not run yet" in table3.status("cpu", empty)
    assert f"{setup.schedule.epochs} M2 epochs; the full protocol trains {table3.PROFILES['full'].schedule.epochs}" in table3.status("cpu", empty)
    rows = [("N+N", 5, 5, r) for r in range(setup.runs)] + [("S+N", 5, 5, 0), (table3.ANCHOR, 50, 50, 0)]
    runs = pd.DataFrame(rows, columns=["configuration", "z1", "z2", "run"]).assign(**{"test accuracy": 90.0})
    assert f"Cells with all their runs: 1 of 27; with at least one run: 2; the anchor ({table3.KINGMA_M2['cpu'].epochs} M2 epochs) has 1 of" in table3.status("cpu", runs)
    assert table3.status("full", runs).startswith("Profile **full** is the full protocol")
    assert "instead of" not in table3.status("cpu", runs.assign(precision="bfloat16"))
    assert "Every run trained M2 in bfloat16." in table3.status("cpu", runs.assign(precision="bfloat16"))
    mixed = runs.assign(precision=["bfloat16"] * (len(runs) - 1) + ["float32"])
    assert f"1 of the {len(runs)} runs trained M2 in float32 instead of bfloat16" in table3.status("cpu", mixed)


def _grid_runs(accuracies: dict[tuple[str, int, int], list[float]]) -> pd.DataFrame:
    rows = [{"configuration": c, "z1": z1, "z2": z2, "run": r, "test accuracy": a}
            for (c, z1, z2), values in accuracies.items() for r, a in enumerate(values)]
    return pd.DataFrame(rows)


def test_the_best_pairing_test_is_two_sided_and_holm_corrected():
    from scipy import stats

    runs = _grid_runs({
        ("S+N", 5, 5): [92.3, 92.0, 92.6], ("N+N", 5, 5): [90.3, 90.0, 90.6], ("S+S", 5, 5): [92.1, 92.5, 92.4],
        ("S+N", 10, 5): [85.7, 84.9, 86.4], ("N+N", 10, 5): [91.3, 90.8, 92.0],
    })
    tests = table3.best_pairing_tests("cpu", runs)
    p = [stats.ttest_ind(runs.query(f"configuration == 'S+N' and z1 == {z1}")["test accuracy"],
                         runs.query(f"configuration == '{other}' and z1 == {z1}")["test accuracy"], equal_var=False).pvalue
         for z1, other in ((5, "N+N"), (5, "S+S"), (10, "N+N"))]
    assert [float(v) for v in tests["p"]] == pytest.approx([float(f"{v:.2g}") for v in p])
    holm = np.minimum(1, np.maximum.accumulate(np.sort(p) * np.arange(3, 0, -1)))[np.argsort(np.argsort(p))]
    assert [float(v) for v in tests["p (Holm)"]] == pytest.approx([float(f"{v:.2g}") for v in holm])
    assert tests.loc[(5, 5, "N+N"), "verdict"] == "holds (reduced budget)"
    assert tests.loc[(5, 5, "S+S"), "verdict"] == "not significant"
    assert tests.loc[(10, 5, "N+N"), "verdict"] == "reversed (reduced budget)"
    assert table3.best_pairing_tests("full", runs).loc[(10, 5, "N+N"), "verdict"] == "refuted"


def test_the_results_reading_names_leaders_reversals_and_missing_cells():
    runs = _grid_runs({
        **{(c, 5, z2): values for z2 in (5, 10, 50) for c, values in (("S+N", [92.3, 92.0, 92.6]), ("N+N", [90.3, 90.0, 90.6]), ("S+S", [87.1, 87.5, 87.4]))},
        ("S+N", 10, 5): [85.7, 84.9, 86.4], ("N+N", 10, 5): [91.3, 90.8, 92.0],
    })
    reading = table3.results_reading("cpu", runs)
    assert "At z1 = 5 the best mean is S+N at z2 = 5 (paper: S+S)" in reading
    assert "At z1 = 10" not in reading  # no z1 = 10 cell has all three pairings
    assert "S+N is significantly worse at z1 = 10, z2 = 5 against N+N (-5.7 points)" in reading
    assert "Not yet run: N+N at z1 = 10 (z2 = 10, 50), S+S at z1 = 10, S+N at z1 = 10 (z2 = 10, 50), N+N at z1 = 50," in reading
    assert table3.results_reading("cpu", runs.iloc[:0]).startswith("No cell")


def test_each_run_stores_its_test_confusion_and_matching_only_adds(tiny):
    empty = pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])
    assert "no stored run carries" in table3.matching_table("smoke", empty).to_string()
    runs = table3.table3_runs("smoke", [("N+N", 5, 5)])
    store = table3.table3_store("smoke")
    config = table3.cell_config("smoke", "N+N", 5, 5)
    for _, run in runs.iterrows():
        confusion = pd.read_csv(store.artifact_path(config, int(run["run"]), "confusion.csv")).to_numpy()
        assert confusion.shape == (10, 10) and confusion.sum() == 60
        # The diagonal is the accuracy the run reports (argmax of q(y | z1), no matching).
        assert 100 * np.trace(confusion) / 60 == pytest.approx(run["test accuracy"], abs=1e-9)
    row = table3.matching_table("smoke", runs).loc[("N+N", 5, 5)]
    assert row["runs"] == 2 and row["Hungarian − argmax"].startswith("+")
    overview = table3.matching_by_pairing("smoke", runs).loc["N+N"]
    matched = table3.matched_runs("smoke", runs)
    gain = matched["Hungarian"] - matched["argmax"]
    assert (overview["cells"], overview["runs"]) == (1, 2)
    assert overview["runs changed by matching"] == f"{int((gain > 1e-9).sum())} of 2"
    assert overview["largest gain (points)"] == f"{gain.max():+.2f}"
    assert "no stored run carries" in table3.matching_by_pairing("smoke", empty).to_string()


def test_the_pruning_ablation_keeps_every_coordinate_and_pairs_runs(tiny):
    assert table3.cell_config("smoke", "N+N", 5, 5, prune=False) != table3.cell_config("smoke", "N+N", 5, 5)
    assert "no normal-M1 cell" in table3.pruning_ablation("smoke").to_string()
    pruned = table3.table3_runs("smoke", [("N+N", 5, 5)])
    whole = table3.table3_runs("smoke", [("N+N", 5, 5)], prune=False)
    assert (pruned["M1 coordinates"] == 3).all() and (whole["M1 coordinates"] == 4).all()
    # The same labelled images in both arms of a run.
    first, second = tiny[0]["labelled"], tiny[1]["labelled"]
    assert torch.equal(first, second)
    row = table3.pruning_ablation("smoke").loc[("N+N", 5, 5)]
    difference = pruned.set_index("run")["test accuracy"] - whole.set_index("run")["test accuracy"]
    assert row["coordinates kept"] == "3 of 4" and row["runs"] == 2
    assert row["pruned − every"] == f"{difference.mean():+.2f} ± {difference.std():.2f}"


def test_the_audit_line_gives_the_range_of_what_matching_adds(tiny):
    empty = pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])
    assert table3.matching_summary("smoke", empty).startswith("not yet measured")
    runs = table3.table3_runs("smoke", [("N+N", 5, 5), ("S+N", 5, 5)])
    gains = table3.matching_table("smoke", runs)["Hungarian − argmax"].map(lambda text: float(text.split(" ")[0]))
    assert table3.matching_summary("smoke", runs) == f"{gains.min():+.2f} to {gains.max():+.2f} points of test accuracy over 2 cells (4 runs, 1 M2 epochs)"


def test_an_m1_is_trained_once_and_its_codes_come_back_from_its_stored_parameters(monkeypatch, tmp_path):
    """The codes recomputed from the committed parameters equal those kept after training, and
    recomputing them trains nothing."""
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    first = table3.m1_codes("smoke", "S-VAE", 3)
    config = table3.run_config({"model": "S-VAE", "d": 3}, table3.m1_protocol("smoke", "S+S"), table3.table1.PROFILES[table3.PROFILES["smoke"].m1_profile].data())
    assert table3.m1_parameters_path("smoke", config).exists()
    for codes in (table3.m1_store("smoke").folder / "codes").glob("*.pt"):
        codes.unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("M1 was retrained although its parameters are stored")

    monkeypatch.setattr(table3, "run_vae", no_training)
    again = table3.m1_codes("smoke", "S-VAE", 3)
    for split in table3.SPLITS:
        assert torch.equal(first[split].loc, again[split].loc) and torch.equal(first[split].scale, again[split].scale)


def test_the_cost_reading_uses_m2s_own_time_and_names_cells_timed_with_their_m1():
    """A cell with M2's own time is read from it; a cell without it falls back on the unit's
    wall time (M1 included) and is named in the caveat."""
    runs = pd.DataFrame({
        "configuration": ["N+N", "N+N", "S+N", "S+N"], "z1": [5] * 4, "z2": [5] * 4, "run": [0, 1, 0, 1],
        "epochs": [100] * 4, "ensemble_runs": [2] * 4, "wall_s": [900.0, 900.0, 1500.0, 1500.0],
        table3.M2_WALL_S: [600.0, 600.0, np.nan, np.nan],
    })
    text = table3.cost_reading("cpu", runs)
    assert "12.0 s (N+N at z1 = 5, z2 = 5) to 30.0 s (S+N at z1 = 5, z2 = 5)" in text
    assert "The rate of S+N at z1 = 5, z2 = 5 is the wall time of the job that trained it" in text
    timed = runs.assign(**{table3.M2_WALL_S: 600.0})
    assert "wall time of the job" not in table3.cost_reading("cpu", timed)
