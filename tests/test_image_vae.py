"""The follow-up paper's network and its training loop, on tiny synthetic images."""

from __future__ import annotations

import math

import pytest
import torch

from hvae_lib.models.compression_loss import CompressionLoss
from hvae_lib.models.image_vae import ImageVAE
from hvae_lib.training.image_vae_training import ImageVAESchedule, train_image_vae


def images(n=240, seed=0):
    """n images, each one of 5 random prototypes with a little noise, in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(5, 784, generator=generator)
    which = torch.randint(0, 5, (n,), generator=generator)
    return (prototypes[which] + 0.05 * torch.randn(n, 784, generator=generator)).clamp(0, 1)


def test_the_residual_network_has_the_authors_parameter_count():
    """660,995 parameters for C = 3, n = 128: ``Nparams`` in the authors' CIFAR-10 run."""
    model = ImageVAE(128, (3, 32, 32), "resnet")
    assert sum(p.numel() for p in model.parameters()) == 660_995


@pytest.mark.parametrize("architecture", ["mlp", "resnet"])
def test_shapes_and_the_sphere_projection(architecture):
    model = ImageVAE(16, (1, 28, 28), architecture, normalize_z=True)
    x = images(6).unsqueeze(0)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (1, 6, 16)
    z = model.reparameterize(mu, logvar)
    torch.testing.assert_close(z.norm(dim=-1), torch.full((1, 6), 4.0))
    out = model.decode(z)
    assert out.shape == (1, 6, 784) and ((out >= 0) & (out <= 1)).all()


def test_annealing_follows_the_code_and_its_variants():
    code = ImageVAESchedule(epochs=300, beta_target=1.0)
    assert [code.annealing_factor(e) for e in (0, 4, 100, 101)] == [1.0, 3.0, 11.0, 1.0]
    short = ImageVAESchedule(epochs=30, beta_target=1.0, anneal_epochs=10)
    assert short.annealing_factor(10) == pytest.approx(11.0) and short.annealing_factor(11) == 1.0
    assert ImageVAESchedule(epochs=30, beta_target=1.0, annealing="hold").annealing_factor(200) == 11.0
    assert ImageVAESchedule(epochs=30, beta_target=1.0, annealing="none").annealing_factor(5) == 1.0


def test_beta_is_autotuned_once_after_epoch_zero():
    model = ImageVAE.from_seeds(8, [0], normalize_z=True)
    schedule = ImageVAESchedule(epochs=3, beta_target=50.0, batch_size=40, anneal_epochs=2)
    history = train_image_vae(model, images(), schedule, CompressionLoss(), seeds=[0])
    expected = 50.0 * history.edt[0][0] / (history.regulariser[0][0] + 1e-3)
    assert history.beta_eff[0][0] == pytest.approx(expected, rel=1e-6)
    assert history.beta_eff[1] == history.beta_eff[2] == history.beta_eff[0]


@pytest.mark.parametrize("loss", [None, CompressionLoss()])
def test_a_run_in_an_ensemble_trains_as_it_would_alone(loss):
    kwargs = {"normalize_z": loss is not None}
    schedule = ImageVAESchedule(epochs=2, beta_target=10.0, batch_size=40)
    pair = ImageVAE.from_seeds(8, [3, 4], **kwargs)
    train_image_vae(pair, images(), schedule, loss, seeds=[3, 4])
    alone = ImageVAE.from_seeds(8, [4], **kwargs)
    train_image_vae(alone, images(), schedule, loss, seeds=[4])
    for (name, p), q in zip(pair.named_parameters(), alone.parameters()):
        torch.testing.assert_close(p[1:2], q, rtol=1e-4, atol=1e-5, msg=name)


def test_training_lowers_the_reconstruction_error():
    model = ImageVAE.from_seeds(8, [0])
    history = train_image_vae(model, images(), ImageVAESchedule(epochs=8, beta_target=1e-3, batch_size=40, learning_rate=1e-3), None, seeds=[0])
    assert history.edt[-1][0] < 0.5 * history.edt[0][0]
    assert all(math.isfinite(v[0]) for v in history.regulariser)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="annealing"):
        ImageVAESchedule(epochs=3, beta_target=1.0, annealing="linear")
    with pytest.raises(ValueError, match="one run at a time"):
        ImageVAE(8, architecture="resnet", runs=2)
    with pytest.raises(ValueError, match="one seed per run"):
        train_image_vae(ImageVAE(8, runs=2), images(), ImageVAESchedule(epochs=1, beta_target=1.0), None, seeds=[0])
