"""Every setting that changes a result is in its cache key, and a run's numbers depend only on
its configuration and seed."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
import torch

from hvae_lib.experiments import table1, table4
from hvae_lib.experiments.vae_runs import VAEProtocol, run_config, run_seeds, run_vae
from hvae_lib.results import RunStore
from hvae_lib.training import LinkSettings
from hvae_lib.training.vae_training import TrainingSchedule

SCHEDULE = TrainingSchedule(max_epochs=4, warmup_epochs=1, patience=2, batch_size=32)
PROTOCOL = VAEProtocol(SCHEDULE, hidden=(16,), iwae_samples=8)
DATA = table1.PROFILES["smoke"].data()


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, tuple):
        return (*value, 8)
    alternatives = {
        "float32": "bfloat16", "bfloat16": "float32", "bernoulli": "gaussian",
        "after_warmup": "weighted_loss", "dynamic": "fixed", "vmf": "wrapped_normal",
        "g_rep": "g_rep+g_cor",
    }
    return alternatives.get(value, f"{value}-changed")


@pytest.mark.parametrize("name", [f.name for f in fields(TrainingSchedule)])
def test_every_schedule_setting_is_in_the_key(name):
    schedule = replace(SCHEDULE, **{name: _changed(getattr(SCHEDULE, name))})
    assert run_config({"model": "S-VAE", "d": 2}, replace(PROTOCOL, schedule=schedule), DATA) != run_config({"model": "S-VAE", "d": 2}, PROTOCOL, DATA)


@pytest.mark.parametrize("name", [f.name for f in fields(VAEProtocol) if f.name != "schedule"])
def test_every_protocol_setting_is_in_the_key(name):
    protocol = replace(PROTOCOL, **{name: _changed(getattr(PROTOCOL, name))})
    assert run_config({"model": "N-VAE", "d": 2}, protocol, DATA) != run_config({"model": "N-VAE", "d": 2}, PROTOCOL, DATA)


@pytest.mark.parametrize("name", sorted(DATA))
def test_every_data_setting_is_in_the_key(name):
    data = {**DATA, name: _changed(DATA[name])}
    assert run_config({"model": "N-VAE", "d": 2}, PROTOCOL, data) != run_config({"model": "N-VAE", "d": 2}, PROTOCOL, DATA)


def test_table1_profiles_describe_all_their_data_settings():
    """The sizes and split of every profile are part of its data key."""
    for setup in table1.PROFILES.values():
        data = setup.data()
        assert (data["n_train"], data["n_valid"], data["n_test"]) == (setup.n_train, setup.n_valid, setup.n_test)
        assert (data["validation_size"], data["split_seed"]) == (setup.validation_size, setup.split_seed)


@pytest.mark.parametrize("name", [f.name for f in fields(LinkSettings)])
def test_every_link_prediction_setting_is_in_the_key(name):
    base = LinkSettings()
    changed = replace(base, **{name: _changed(getattr(base, name))})
    assert table4.run_config({"model": "N-VGAE"}, "Cora", changed) != table4.run_config({"model": "N-VGAE"}, "Cora", base)


def test_run_seeds_depend_on_identity_and_seed_only():
    a = run_seeds({"model": "S-VAE", "d": 5}, 3)
    assert a == run_seeds({"d": 5, "model": "S-VAE"}, 3)
    assert len({a, run_seeds({"model": "S-VAE", "d": 5}, 4), run_seeds({"model": "N-VAE", "d": 5}, 3)}) == 3
    assert all(0 <= s < 2**63 for s in a)


def _images(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(4, 32, generator=torch.Generator().manual_seed(0)).round()
    return (prototypes[torch.randint(0, 4, (n,), generator=generator)] * 0.8 + 0.1).float()


def _run(store, seeds, data=DATA, calls=None):
    def counting(trained):
        if calls is not None:
            calls.append(list(trained.seeds))

    return run_vae(store, {"model": "S-VAE", "d": 2}, "vmf", 2, seeds, PROTOCOL, data, _images(96, 1), _images(32, 2), _images(32, 3), after_training=counting)


def test_a_seed_recomputed_alone_gives_the_same_numbers(tmp_path):
    together = _run(RunStore("t", "smoke", root=tmp_path / "a"), [0, 1, 2]).set_index("run")
    alone = _run(RunStore("t", "smoke", root=tmp_path / "b"), [1]).set_index("run")
    for metric in ("LL", "ELBO", "RE", "KL", "best_epoch", "epochs"):
        assert alone.loc[1, metric] == pytest.approx(together.loc[1, metric], rel=1e-4, abs=1e-3), metric


def test_changed_data_never_reuses_a_run_and_new_seeds_reuse_old_ones(tmp_path):
    store = RunStore("t", "smoke", root=tmp_path)
    calls = []
    _run(store, [0, 1], calls=calls)
    _run(store, [0, 1, 2], calls=calls)
    _run(store, [0, 1], data={**DATA, "n_train": DATA["n_train"] + 1}, calls=calls)
    assert calls == [[0, 1], [2], [0, 1]]


def test_a_data_fraction_is_its_own_configuration():
    """The low-data runs train on the first share of the training images, keep the validation
    and test images, and never share a cache key with the full-data runs."""
    full = table1.profile_setup("full")
    tenth = table1.profile_setup("full", 0.1)
    assert (tenth.n_train, tenth.n_valid, tenth.n_test) == (5000, full.n_valid, full.n_test)
    identity = {"model": "S-VAE", "d": 2}
    assert run_config(identity, full.protocol, full.data()) != run_config(identity, tenth.protocol, tenth.data())
    assert table1.profile_setup("smoke", 0.01).n_train == 5 * max(table1.PROFILES["smoke"].knn_labels)
    with pytest.raises(ValueError, match="fraction"):
        table1.profile_setup("full", 0.0)
