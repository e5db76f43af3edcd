"""Joint M1+M2 training (the earlier reproduction's design): its loss, M2's gradient reaching M1,
the runs' independence, and its refusals."""

from __future__ import annotations

import pytest
import torch

from hvae_lib.distributions import RunNoise
from hvae_lib.models.m2 import M2
from hvae_lib.models.vae import VAE
from hvae_lib.training.joint_m1m2 import joint_loss, train_joint_m1m2
from hvae_lib.training.m2_training import M2Schedule

X_DIM, CLASSES = 12, 3


def _images(per_class: int = 20, seed: int = 0):
    """Intensities in [0, 1]: each class lights its own third of the pixels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(CLASSES).repeat_interleave(per_class)
    base = torch.zeros(CLASSES, X_DIM)
    for c in range(CLASSES):
        base[c, c * 4 : (c + 1) * 4] = 0.9
    return (base[y] + 0.05 * torch.rand(len(y), X_DIM, generator=g)).clamp(0, 1), y


def _models(latent: str, seeds: list[int]):
    m1 = VAE.from_seeds(X_DIM, latent, 2, seeds, hidden=(16,))
    m2 = M2.from_seeds(m1.z_dim, "normal", 2, seeds, classes=CLASSES, hidden=8)
    return m1, m2


def _split(y: torch.Tensor, runs: int):
    labelled = torch.stack([torch.tensor([r, 20 + r, 40 + r]) for r in range(runs)])
    unlabelled = torch.stack([torch.tensor(sorted(set(range(len(y))) - set(labelled[r].tolist()))) for r in range(runs)])
    return labelled, unlabelled


@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_the_loss_is_m1s_negative_elbo_plus_m2s_loss_on_the_same_draws(latent):
    images, y = _images()
    m1, m2 = _models(latent, [1, 2])
    x = torch.bernoulli(images[:8], generator=torch.Generator().manual_seed(3)).expand(2, -1, -1)
    labels = y[:2].expand(2, -1)
    total = joint_loss(m1, m2, x[:, :2], labels, x[:, 2:], 4.0, RunNoise([torch.Generator().manual_seed(s) for s in (7, 8)]))

    noise = RunNoise([torch.Generator().manual_seed(s) for s in (7, 8)])
    q = m1.posterior(x)
    z1 = m1.rsample(q, noise)
    elbo = m1.log_likelihood(x, z1) - torch.distributions.kl_divergence(q, m1.prior())
    expected = -elbo.sum(-1) + m2.loss(z1[:, :2], labels, z1[:, 2:], 4.0, noise)
    torch.testing.assert_close(total, expected, rtol=1e-6, atol=1e-5)


def test_m2s_gradient_reaches_m1s_encoder():
    images, y = _images()
    m1, m2 = _models("normal", [1])
    x = torch.bernoulli(images[:8], generator=torch.Generator().manual_seed(3)).unsqueeze(0)
    seeded = lambda: RunNoise([torch.Generator().manual_seed(7)])

    joint_loss(m1, m2, x[:, :2], y[:2].unsqueeze(0), x[:, 2:], 4.0, seeded()).sum().backward()
    joint = [p.grad.clone() for p in m1.encoder.parameters()]
    m1.zero_grad()
    noise = seeded()
    q = m1.posterior(x)
    z1 = m1.rsample(q, noise)
    (-(m1.log_likelihood(x, z1) - torch.distributions.kl_divergence(q, m1.prior())).sum()).backward()
    elbo_only = [p.grad for p in m1.encoder.parameters()]
    assert max((a - b).abs().max().item() for a, b in zip(joint, elbo_only)) > 1e-3


def test_a_run_trains_the_same_alone_or_in_an_ensemble():
    images, y = _images()
    labelled, unlabelled = _split(y, 2)
    schedule = M2Schedule(epochs=2, batches=3, evaluate_every=1)
    together = _models("vmf", [5, 6])
    train_joint_m1m2(*together, images, labelled, y[labelled], unlabelled, schedule, seeds=[5, 6])
    alone = _models("vmf", [6])
    train_joint_m1m2(*alone, images, labelled[1:], y[labelled[1:]], unlabelled[1:], schedule, seeds=[6])
    for model, single in zip(together, alone):
        for (name, p), q in zip(model.named_parameters(), single.parameters()):
            torch.testing.assert_close(p[1:], q, rtol=1e-5, atol=1e-6, msg=name)


def test_training_changes_both_models_and_evaluates_on_schedule():
    images, y = _images()
    labelled, unlabelled = _split(y, 1)
    m1, m2 = _models("normal", [4])
    before = [p.detach().clone() for p in (*m1.parameters(), *m2.parameters())]
    history = train_joint_m1m2(
        m1, m2, images, labelled, y[labelled], unlabelled, M2Schedule(epochs=3, batches=3, evaluate_every=2), seeds=[4],
        evaluate=lambda a, b, epoch: {"training": a.training or b.training},
    )
    assert [h["epoch"] for h in history] == [2, 3] and not any(h["training"] for h in history)
    after = [p.detach() for p in (*m1.parameters(), *m2.parameters())]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


def test_mismatched_models_and_intensities_are_refused():
    images, y = _images()
    labelled, unlabelled = _split(y, 1)
    schedule = M2Schedule(epochs=1, batches=3)
    m1, m2 = _models("normal", [1])
    with pytest.raises(ValueError, match="pairs"):
        train_joint_m1m2(m1, _models("normal", [1, 2])[1], images, labelled, y[labelled], unlabelled, schedule, seeds=[1])
    with pytest.raises(ValueError, match="dimension"):
        train_joint_m1m2(_models("vmf", [1])[0], m2, images, labelled, y[labelled], unlabelled, schedule, seeds=[1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_joint_m1m2(m1, m2, 2 * images, labelled, y[labelled], unlabelled, schedule, seeds=[1])
