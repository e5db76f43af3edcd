"""M2 training: label cycling, the runs' independence, and learning on separable codes."""

from __future__ import annotations

import pytest
import torch

from hvae_lib.models.m2 import M2
from hvae_lib.training.m2_training import Codes, M2Schedule, active_coordinates, epoch_batches, train_m2


def test_every_point_is_served_once_per_epoch_kingma_1_plus_499():
    runs, generators = 2, [torch.Generator().manual_seed(s) for s in (0, 1)]
    labelled = torch.stack([torch.randperm(50000, generator=torch.Generator().manual_seed(9 + r))[:100] for r in range(runs)])
    unlabelled = torch.stack([torch.tensor(sorted(set(range(50000)) - set(labelled[r].tolist()))) for r in range(runs)])
    for _ in range(2):
        batches = epoch_batches(labelled, unlabelled, 100, generators)
        assert len(batches) == 100
        assert {tuple(p.shape) for p, _ in batches} == {(runs, 1)} and {tuple(u.shape) for _, u in batches} == {(runs, 499)}
        positions = torch.cat([p for p, _ in batches], dim=1)
        images = torch.cat([u for _, u in batches], dim=1)
        for r in range(runs):
            assert sorted(positions[r].tolist()) == list(range(100))
            assert sorted(images[r].tolist()) == unlabelled[r].tolist()


def test_fewer_points_than_minibatches_is_refused():
    with pytest.raises(ValueError, match="minibatches"):
        epoch_batches(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 50, dtype=torch.long), 10, [torch.Generator()])


def _clusters(n_per_class: int = 60, classes: int = 4, dim: int = 3, seed: int = 0):
    """Codes of a normal M1 in ``classes`` well-separated clusters."""
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(classes, dim, generator=g)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    loc = centres[y] + 0.3 * torch.randn(len(y), dim, generator=g)
    return Codes("normal", loc, torch.full_like(loc, 0.1)), y


def _split(y: torch.Tensor, runs: int, per_class: int = 2):
    labelled, unlabelled = [], []
    for r in range(runs):
        g = torch.Generator().manual_seed(100 + r)
        chosen = torch.cat([torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=g)[:per_class]] for c in y.unique()])
        labelled.append(chosen)
        unlabelled.append(torch.tensor(sorted(set(range(len(y))) - set(chosen.tolist()))))
    return torch.stack(labelled), torch.stack(unlabelled)


@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_a_run_trains_the_same_alone_or_in_an_ensemble(latent):
    codes, y = _clusters()
    labelled, unlabelled = _split(y, 2)
    schedule = M2Schedule(epochs=2, batches=4, evaluate_every=1)
    together = M2.from_seeds(codes.dim, latent, 2, [5, 6], classes=4, hidden=8)
    train_m2(together, codes, labelled, y[labelled], unlabelled, schedule, seeds=[5, 6])
    alone = M2.from_seeds(codes.dim, latent, 2, [6], classes=4, hidden=8)
    train_m2(alone, codes, labelled[1:], y[labelled[1:]], unlabelled[1:], schedule, seeds=[6])
    for (name, p), q in zip(together.named_parameters(), alone.parameters()):
        torch.testing.assert_close(p[1:2], q, rtol=1e-5, atol=1e-6, msg=name)


def test_m2_learns_separable_classes_from_two_labels_each():
    torch.manual_seed(0)
    codes, y = _clusters()
    labelled, unlabelled = _split(y, 2)
    model = M2.from_seeds(codes.dim, "normal", 2, [1, 2], classes=4, hidden=32)
    accuracy = lambda m, epoch: {"accuracy": (m.predict(codes.mean(torch.arange(len(y)).expand(2, -1))) == y).float().mean(-1).tolist()}
    before = accuracy(model, 0)["accuracy"]
    history = train_m2(model, codes, labelled, y[labelled], unlabelled, M2Schedule(epochs=30, batches=4, learning_rate=1e-2, evaluate_every=10), seeds=[1, 2], evaluate=accuracy)
    assert [h["epoch"] for h in history] == [10, 20, 30]
    assert min(history[-1]["accuracy"]) > 0.9 > max(before)


def test_pruning_keeps_the_coordinates_that_vary():
    loc = torch.stack([torch.linspace(-1, 1, 100), torch.full((100,), 0.3), 0.05 * torch.linspace(-1, 1, 100)], dim=1)
    codes = Codes("normal", loc, torch.ones_like(loc))
    keep = active_coordinates(codes)
    assert keep.tolist() == [True, False, False]
    assert codes.keep(keep).dim == 1
    with pytest.raises(ValueError, match="pruned"):
        Codes("vmf", torch.nn.functional.normalize(loc, dim=1), torch.ones(100)).keep(keep)
