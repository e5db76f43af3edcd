"""The Table 3 command line picks the cells a background unit trains."""

import pandas as pd
import pytest
import torch

from hvae_lib.experiments import table3
from hvae_lib.training.m2_training import Codes


@pytest.fixture
def trained(monkeypatch):
    cells = []

    def fake_runs(profile, chosen, precision, prune=True):
        cells.extend(chosen)
        return pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy", "valid accuracy", "M1 coordinates"])

    monkeypatch.setattr(table3, "table3_runs", fake_runs)
    return cells


def test_anchor_flag_trains_the_anchor_alone(trained):
    table3.main(["cpu", "--anchor"])
    assert trained == [(table3.ANCHOR, 50, 50)]


def test_cells_are_the_product_of_configurations_and_sizes(trained):
    table3.main(["cpu", "--configurations", "N+N", "S+N", "--z1", "5", "--z2", "10", "50"])
    assert trained == [("N+N", 5, 10), ("N+N", 5, 50), ("S+N", 5, 10), ("S+N", 5, 50)]


def test_without_choices_every_cell_but_the_anchor(trained):
    table3.main(["cpu"])
    assert len(trained) == 27 and (table3.ANCHOR, 50, 50) not in trained


def test_no_prune_flag_reaches_the_runs(monkeypatch):
    seen = {}

    def fake_runs(profile, chosen, precision, prune=True):
        seen["prune"] = prune
        return pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy", "valid accuracy", "M1 coordinates"])

    monkeypatch.setattr(table3, "table3_runs", fake_runs)
    table3.main(["cpu", "--configurations", "N+N", "--z1", "50", "--z2", "50", "--no-prune"])
    assert seen["prune"] is False


def test_m1_only_trains_each_m1_the_cells_need_once_and_no_m2(monkeypatch, trained):
    seen = []

    def fake_codes(profile, model, z1, protocol=None):
        seen.append((model, z1, protocol == table3.m1_protocol("cpu", "N+N")))
        return {"train": Codes("normal", torch.zeros(3, z1), torch.ones(3, z1))}

    monkeypatch.setattr(table3, "m1_codes", fake_codes)
    table3.main(["cpu", "--configurations", "S+S", "S+N", "N+N", "--z1", "5", "--z2", "5", "10", "--m1-only"])
    assert seen == [("S-VAE", 5, True), ("N-VAE", 5, True)] and trained == []
    seen.clear()
    table3.main(["cpu", "--anchor", "--m1-only"])
    assert seen == [("N-VAE", 50, False)]


@pytest.mark.parametrize("native, expected", [(True, "bfloat16"), (False, "float32")])
def test_a_unit_trains_in_float32_where_the_cpu_lacks_native_bfloat16(monkeypatch, native, expected):
    seen = {}

    def fake_runs(profile, chosen, precision, prune=True):
        seen["precision"] = precision
        return pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy", "valid accuracy", "M1 coordinates"])

    monkeypatch.setattr(table3, "table3_runs", fake_runs)
    monkeypatch.setattr(table3, "training_precision", lambda preferred: preferred if native else "float32")
    table3.main(["cpu", "--configurations", "N+N", "--z1", "5", "--z2", "5"])
    assert table3.PROFILES["cpu"].schedule.precision == "bfloat16" and seen["precision"] == expected
    table3.main(["cpu", "--configurations", "N+N", "--z1", "5", "--z2", "5", "--precision", "bfloat16"])
    assert seen["precision"] == "bfloat16"
