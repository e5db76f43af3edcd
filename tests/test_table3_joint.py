"""Table 3's joint-training check on synthetic images: the labels it sees, its pairing with the
frozen runs, its cache key and cache, and the paired comparison."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import pytest
import torch

from hvae_lib.experiments import table3, table3_joint
from hvae_lib.training.m2_training import M2Schedule


@dataclass
class _Split:
    images: torch.Tensor
    labels: torch.Tensor


def _splits() -> dict:
    g = torch.Generator().manual_seed(0)
    return {split: _Split(torch.rand(n, 16, generator=g), torch.arange(n) % 10) for split, n in (("train", 300), ("valid", 40), ("test", 50))}


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setitem(table3.PROFILES, "smoke", replace(table3.PROFILES["smoke"], schedule=M2Schedule(epochs=2, batches=10, evaluate_every=1), hidden=8))
    monkeypatch.setattr(table3, "m1_splits", lambda profile: _splits())
    calls = []
    real = table3_joint.train_joint_m1m2

    def spy(m1, m2, images, labelled, labels, unlabelled, schedule, seeds, evaluate=None):
        calls.append(dict(m1=m1, images=images, labelled=labelled, labels=labels, unlabelled=unlabelled))
        return real(m1, m2, images, labelled, labels, unlabelled, schedule, seeds, evaluate)

    monkeypatch.setattr(table3_joint, "train_joint_m1m2", spy)
    return calls


def test_joint_runs_see_the_frozen_runs_labelled_images_and_no_other_label(tiny):
    runs = table3_joint.joint_runs("smoke", (("S+N", 5, 5),))
    (call,) = tiny
    train = _splits()["train"]
    labelled, unlabelled = table3.label_split(train.labels, table3.PROFILES["smoke"].labels, [0, 1])
    assert torch.equal(call["labelled"], labelled) and torch.equal(call["unlabelled"], unlabelled)
    assert torch.equal(call["labels"], train.labels[labelled]) and torch.equal(call["images"], train.images)
    assert call["m1"].latent == "vmf" and call["m1"].d == 5
    assert len(runs) == 2 and runs["test accuracy"].between(0, 100).all()


def test_the_joint_key_is_not_the_frozen_cells_and_follows_the_schedule(monkeypatch):
    joint = table3_joint.joint_config("smoke", "N+N", 5, 5)
    assert joint != table3.cell_config("smoke", "N+N", 5, 5) and joint != table3.cell_config("smoke", "N+N", 5, 5, prune=False)
    assert table3_joint.joint_config("smoke", "S+N", 5, 5) != joint
    monkeypatch.setitem(table3.PROFILES, "smoke", replace(table3.PROFILES["smoke"], schedule=M2Schedule(epochs=3, batches=10)))
    assert table3_joint.joint_config("smoke", "N+N", 5, 5) != joint
    monkeypatch.undo()
    monkeypatch.setitem(table3.table1.PROFILES, "smoke", replace(table3.table1.PROFILES["smoke"], n_train=table3.table1.PROFILES["smoke"].n_train + 1))
    assert table3_joint.joint_config("smoke", "N+N", 5, 5) != joint


def test_joint_runs_are_cached_and_the_ablation_pairs_them_by_run(tiny, monkeypatch):
    cells = (("N+N", 5, 5),)
    assert "no cell has frozen and joint runs" in table3_joint.joint_ablation("smoke", pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])).to_string()
    joint = table3_joint.joint_runs("smoke", cells)
    monkeypatch.setattr(table3_joint, "_train_joint_cell", lambda *args: pytest.fail("a stored run was trained again"))
    monkeypatch.setitem(table3_joint.JOINT_CELLS, "smoke", cells)
    frozen = pd.DataFrame({"configuration": "N+N", "z1": 5, "z2": 5, "run": [1, 0, 7], "test accuracy": [50.0, 40.0, 99.0]})
    row = table3_joint.joint_ablation("smoke", frozen).loc[("N+N", 5, 5)]
    difference = joint.set_index("run")["test accuracy"] - pd.Series({0: 40.0, 1: 50.0})
    assert row["runs"] == 2
    assert row["joint − frozen"] == f"{difference.mean():+.1f} ± {difference.std():.1f}"


def test_the_audit_line_reads_stored_runs_only(tiny, monkeypatch):
    empty = pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy"])
    monkeypatch.setitem(table3_joint.JOINT_CELLS, "smoke", (("N+N", 5, 5),))
    assert table3_joint.joint_summary("smoke", empty).startswith("not yet measured")
    assert not tiny  # nothing was trained to say so
    joint = table3_joint.joint_runs("smoke")
    frozen = joint.assign(**{"test accuracy": joint["test accuracy"] - 2.0})
    assert table3_joint.joint_summary("smoke", frozen) == "N+N at z1 = 5, z2 = 5: +2.0 ± 0.0 points (2 paired runs); 2 M2 epochs"


def test_the_command_line_trains_the_chosen_pairings_only(monkeypatch):
    chosen = []
    monkeypatch.setattr(table3_joint, "joint_runs", lambda profile, cells, precision: chosen.append((cells, precision)) or pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy", "valid accuracy"]))
    monkeypatch.setattr(table3_joint, "training_precision", lambda preferred: "float32")
    table3_joint.main(["cpu", "--configurations", "N+N"])
    assert chosen == [((("N+N", 5, 5),), "float32")]
    with pytest.raises(SystemExit):
        table3_joint.main(["cpu", "--configurations", "S+S"])


def test_stored_joint_runs_of_either_precision_are_read_preferring_the_profiles(tiny, monkeypatch):
    cells = (("N+N", 5, 5),)
    fast = table3_joint.joint_runs("smoke", cells, precision="bfloat16")
    read = table3_joint.joint_runs("smoke", cells, train=False)
    assert (read["precision"] == "bfloat16").all() and read["test accuracy"].tolist() == fast["test accuracy"].tolist()
    table3_joint.joint_runs("smoke", cells)
    assert (table3_joint.joint_runs("smoke", cells, train=False)["precision"] == "float32").all()
