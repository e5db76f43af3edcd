"""The earlier reproduction's training defects, kept as options to measure them: the wrapped
Gaussian on the circle, early stopping on the warm-up-weighted loss, binarisation drawn once."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from hvae_lib.distributions import RunNoise
from hvae_lib.experiments import table1, vae_runs
from hvae_lib.models.vae import VAE
from hvae_lib.training import flat_vae
from hvae_lib.training.vae_training import TrainingSchedule, train_ensemble
from tests.test_training import _blobs


def test_wrapped_normal_angles_have_sd_one_over_kappa():
    """200k seeded draws around a fixed mean direction (kappa = 25): the angle's offset has
    mean 0 and sd 1/kappa within 1%, with global or per-run noise; the vMF sampler of the same
    posterior spreads about 1/sqrt(kappa), five times wider."""
    torch.manual_seed(0)
    model = VAE(4, "vmf", 1, hidden=(), circle_sampler="wrapped_normal")
    loc = torch.tensor([[0.6, 0.8]]).expand(1, 200_000, 2)
    kappa = torch.full((1, 200_000, 1), 25.0)
    q = model.posterior_from_heads(loc, torch.log(torch.expm1(kappa - 1)))
    for noise in (None, RunNoise([torch.Generator().manual_seed(1)])):
        z = model.rsample(q, noise)
        assert torch.allclose(z.norm(dim=-1), torch.ones(1, 200_000), atol=1e-6)
        offset = torch.atan2(z[..., 1], z[..., 0]) - math.atan2(0.8, 0.6)
        assert abs(float(offset.mean())) < 1e-3
        assert float(offset.std()) == pytest.approx(1 / 25, rel=1e-2)
    exact = VAE(4, "vmf", 1, hidden=()).rsample(q)
    spread = (torch.atan2(exact[..., 1], exact[..., 0]) - math.atan2(0.8, 0.6)).std()
    assert float(spread) > 4 / 25  # the vMF's angular sd is about 1/sqrt(kappa) = 5/25


def test_wrapped_normal_is_only_for_a_circle():
    with pytest.raises(ValueError, match="circle"):
        VAE(4, "vmf", 2, circle_sampler="wrapped_normal")
    with pytest.raises(ValueError, match="circle"):
        VAE(4, "normal", 1, circle_sampler="wrapped_normal")
    with pytest.raises(ValueError, match="circle_sampler"):
        VAE(4, "vmf", 1, circle_sampler="gaussian")


def test_weighted_loss_selection_picks_inside_the_warmup(monkeypatch):
    """Scripted validation values: the ELBO at beta = 1 rises every epoch, the warm-up-weighted
    objective peaks at epoch 1. The default rule picks after the warm-up; the earlier
    reproduction's rule picks epoch 1 and stops `patience` epochs later; both report the ELBO at
    beta = 1 of the epoch they chose."""
    calls = {"epoch": -1}

    def scripted(self, x, noise, batch_size=1000, beta=1.0):
        if beta == 1.0:
            calls["epoch"] += 1
            return torch.full((self.runs,), -100.0 + calls["epoch"], dtype=torch.float64)
        return torch.full((self.runs,), -50.0 - abs(calls["epoch"] - 1), dtype=torch.float64)

    monkeypatch.setattr(flat_vae.FlatVAE, "elbo", scripted)
    schedule = TrainingSchedule(max_epochs=12, warmup_epochs=6, patience=3, batch_size=32)
    model = VAE.from_seeds(32, "normal", 2, [1], hidden=(8,))
    default = train_ensemble(model, _blobs(64), _blobs(32), schedule, binarize=True, seeds=[2])
    assert default.best_epoch == [11] and default.best_valid_elbo == [-89.0]
    calls["epoch"] = -1
    model = VAE.from_seeds(32, "normal", 2, [1], hidden=(8,))
    weighted = train_ensemble(model, _blobs(64), _blobs(32), replace(schedule, selection="weighted_loss"), binarize=True, seeds=[2])
    assert weighted.best_epoch == [1] and weighted.epochs == [5] and weighted.best_valid_elbo == [-99.0]


def test_schedule_and_protocol_reject_unknown_defect_settings():
    with pytest.raises(ValueError, match="selection"):
        TrainingSchedule(max_epochs=3, warmup_epochs=1, patience=1, selection="best")
    with pytest.raises(ValueError, match="gradient"):
        TrainingSchedule(max_epochs=3, warmup_epochs=1, patience=1, gradient="g_cor")
    with pytest.raises(ValueError, match="binarization"):
        replace(table1.PROFILES["smoke"].protocol, binarization="static")


def test_defect_settings_enter_the_key_only_away_from_their_defaults():
    """Runs cached before these settings existed keep their keys (full: be0b749f); each
    setting, changed, gives a new key."""
    protocol = table1.PROFILES["full"].protocol
    assert protocol.tag() == "be0b749f"
    changed = [
        replace(protocol, binarization="fixed"),
        replace(protocol, circle_sampler="wrapped_normal"),
        replace(protocol, schedule=replace(protocol.schedule, selection="weighted_loss")),
        replace(protocol, schedule=replace(protocol.schedule, gradient="g_rep+g_cor")),
    ]
    assert len({protocol.tag(), *(p.tag() for p in changed)}) == 5


def test_fixed_binarization_trains_on_one_binary_sample(monkeypatch, tmp_path):
    """With binarization = "fixed" the engine receives binary training and validation images
    (the same for every run) and does not binarise again."""
    seen = {}

    def capture(model, train_x, valid_x, schedule, binarize, seeds, checkpoint=None, **kwargs):
        seen.update(train=train_x.clone(), valid=valid_x.clone(), binarize=binarize)
        raise RuntimeError("captured")

    monkeypatch.setattr(vae_runs, "train_ensemble", capture)
    setup = table1.PROFILES["smoke"]
    protocol = replace(setup.protocol, binarization="fixed")
    store = vae_runs.RunStore("table1", "smoke", root=tmp_path)
    x = _blobs(64)
    with pytest.raises(RuntimeError, match="captured"):
        vae_runs.run_vae(store, {"model": "N-VAE", "d": 2}, "normal", 2, [0], protocol, setup.data(), x, x[:32], x[:32])
    assert seen["binarize"] is False
    assert set(seen["train"].unique().tolist()) == {0.0, 1.0} and set(seen["valid"].unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(seen["train"], vae_runs.binarize_once(x, vae_runs.TRAIN_BINARIZATION_SEED))


def test_stored_runs_count_both_training_precisions_preferring_the_protocols(monkeypatch, tmp_path):
    """A seed trained in float32 (a CPU without native bfloat16) counts for the profile's
    bfloat16 protocol; where a seed exists in both precisions, the protocol's own is kept; a
    run of another protocol (a defect) or other data never counts."""
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    setup = table1.PROFILES["smoke"]
    store = table1.table1_store("smoke")
    as_precision = lambda precision: replace(setup.protocol, schedule=replace(setup.protocol.schedule, precision=precision))
    metrics = lambda value: [{"LL": value, "epochs": 1}]
    identity = {"model": "N-VAE", "d": 2}
    store.run_ensemble(vae_runs.run_config(identity, as_precision("bfloat16"), setup.data()), [0], lambda s: metrics(-1.0))
    store.run_ensemble(vae_runs.run_config(identity, as_precision("float32"), setup.data()), [0], lambda s: metrics(-2.0))
    store.run_ensemble(vae_runs.run_config(identity, as_precision("float32"), setup.data()), [1], lambda s: metrics(-3.0))
    defect = replace(as_precision("float32"), binarization="fixed")
    store.run_ensemble(vae_runs.run_config(identity, defect, setup.data()), [2], lambda s: metrics(-4.0))
    other_data = {**setup.data(), "n_train": 1}
    store.run_ensemble(vae_runs.run_config(identity, as_precision("bfloat16"), other_data), [3], lambda s: metrics(-5.0))
    found = table1.stored_runs("smoke").set_index("run")
    assert sorted(found.index) == [0, 1]
    assert found.loc[0, "LL"] == -1.0 and found.loc[0, "precision"] == "bfloat16"
    assert found.loc[1, "LL"] == -3.0 and found.loc[1, "precision"] == "float32"
    assert table1.stored_runs("smoke", protocol=replace(setup.protocol, binarization="fixed"))["LL"].tolist() == [-4.0]
    path = table1.run_artifact("smoke", next(found.reset_index().itertuples(index=False)), "knn.csv")
    assert path == store.artifact_path(vae_runs.run_config(identity, as_precision("bfloat16"), setup.data()), 0, "knn.csv")


def test_full_protocol_status_reads_an_empty_store(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_RESULTS_DIR", str(tmp_path))
    assert table1.stored_runs("full").empty
    status = table1.full_protocol_status()
    assert (status["LL (full protocol)"] == "not yet run").all() and (status["runs"] == "0 / 10").all()
