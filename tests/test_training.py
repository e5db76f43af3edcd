"""The VAE training engine: its gradients, per-run early stopping and per-run randomness."""

from __future__ import annotations

import math
from dataclasses import fields, replace

import pytest
import torch

from hvae_lib.distributions import RunNoise
from hvae_lib.models.vae import VAE
from hvae_lib.training import flat_vae
from hvae_lib.training.flat_vae import FlatVAE
from hvae_lib.training.vae_training import TrainingSchedule, _Batches, train_ensemble


def _generators(seeds):
    return RunNoise([torch.Generator().manual_seed(s) for s in seeds])


def _autograd_gradient(model: VAE, x: torch.Tensor, beta: float, seeds) -> torch.Tensor:
    """The reference: autograd through ``VAE.elbo_terms`` of the summed per-run losses, laid out
    like ``FlatVAE``'s buffer."""
    model.zero_grad()
    reconstruction, kl = model.elbo_terms(x, _generators(seeds))
    (beta * kl - reconstruction).mean(dim=1).sum().backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("latent", ["normal", "vmf"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("hidden", [(16, 8), (12,)])
@pytest.mark.parametrize("activation", ["relu", "softplus"])
def test_written_out_backward_equals_autograd(latent, likelihood, hidden, activation):
    """FlatVAE's float32 gradient is autograd's (to float32 rounding) for every posterior family,
    likelihood, depth and activation."""
    seeds = [5, 6, 7]
    model = VAE.from_seeds(20, latent, 3, [1, 2, 3], hidden=hidden, likelihood=likelihood, noise_scale=0.5, activation=activation)
    x = torch.bernoulli(torch.rand(3, 9, 20, generator=torch.Generator().manual_seed(0)))
    reference = _autograd_gradient(model, x, 0.3, seeds)
    ours = FlatVAE(model, 1e-3, "float32").gradient(x, 0.3, _generators(seeds))
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_bfloat16_gradient_is_close_to_autograd(latent):
    """At the paper's widths (784-256-128, d = 10, 100 images per run) the bfloat16 gradient is
    within 2% of autograd's float32 one in relative L2 norm (measured: 0.4-0.7%; the rounding of
    oneDNN's bfloat16 kernels varies between processes, so the margin is wide)."""
    seeds = [5, 6, 7]
    model = VAE.from_seeds(784, latent, 10, [1, 2, 3])
    x = torch.bernoulli(0.3 * torch.rand(3, 100, 784, generator=torch.Generator().manual_seed(0)))
    reference = _autograd_gradient(model, x, 0.3, seeds)
    fast = FlatVAE(model, 1e-3, "bfloat16").gradient(x, 0.3, _generators(seeds))
    assert (fast - reference).norm() / reference.norm() < 0.02


def _surrogate_gradient(model: VAE, x: torch.Tensor, beta: float, seeds) -> torch.Tensor:
    """The reference for g_rep + g_cor: autograd through the module of the surrogate loss
    mean_n [beta KL_n + f_n + stop(f_n) (l_n - stop(l_n))], f_n = -log p(x_n | z_n) and l_n the
    log-ratio of ``rsample_with_correction`` (its docstring's form of Lemma 2)."""
    model.zero_grad()
    q = model.posterior(x)
    z, log_ratio = q.rsample_with_correction(noise=_generators(seeds))
    f = -model.log_likelihood_from_outputs(x, model.decode(z))
    kl = torch.distributions.kl_divergence(q, model.prior())
    (beta * kl + f + f.detach() * (log_ratio - log_ratio.detach())).mean(dim=1).sum().backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_full_gradient_equals_autograd_of_the_surrogate(likelihood):
    """With gradient = "g_rep+g_cor", FlatVAE's gradient is autograd's of the surrogate loss
    (same random numbers), and differs from g_rep's in the kappa head only: g_cor acts through
    kappa alone (m = 6 here, where the sampler rejects)."""
    seeds = [5, 6]
    model = VAE.from_seeds(20, "vmf", 5, [1, 2], hidden=(16,), likelihood=likelihood, noise_scale=0.5)
    x = torch.bernoulli(torch.rand(2, 9, 20, generator=torch.Generator().manual_seed(0)))
    full = FlatVAE(model, 1e-3, "float32", "g_rep+g_cor")
    ours = full.gradient(x, 0.3, _generators(seeds)).clone()
    torch.testing.assert_close(ours, _surrogate_gradient(model, x, 0.3, seeds), rtol=1e-5, atol=1e-6)
    rep = FlatVAE(model, 1e-3, "float32").gradient(x, 0.3, _generators(seeds))
    for name in full.slots:
        differs = not torch.allclose(full.view(ours, name), full.view(rep, name), rtol=1e-6, atol=1e-7)
        assert differs == (name.startswith("scale_head") or name.startswith("encoder")), name


def test_full_gradient_is_g_rep_on_the_two_sphere():
    """At d = 2 (m = 3) the sampler draws w in closed form, so g_cor is exactly 0: both
    estimators give the same gradient, bit for bit."""
    model = VAE.from_seeds(20, "vmf", 2, [1, 2], hidden=(16,))
    x = torch.bernoulli(torch.rand(2, 9, 20, generator=torch.Generator().manual_seed(0)))
    full = FlatVAE(model, 1e-3, "float32", "g_rep+g_cor").gradient(x, 0.3, _generators([5, 6])).clone()
    assert torch.equal(full, FlatVAE(model, 1e-3, "float32").gradient(x, 0.3, _generators([5, 6])))


def test_full_gradient_needs_the_vmf_posterior():
    with pytest.raises(ValueError, match="g_cor exists only"):
        FlatVAE(VAE.from_seeds(20, "normal", 2, [1], hidden=(16,)), 1e-3, gradient="g_rep+g_cor")
    with pytest.raises(ValueError, match="gradient must be one of"):
        FlatVAE(VAE.from_seeds(20, "vmf", 2, [1], hidden=(16,)), 1e-3, gradient="g_cor")


def test_adam_step_equals_torch_adam_on_the_module():
    """One FlatVAE step moves every parameter exactly as torch.optim.Adam on the module does."""
    seeds = [3, 4]
    model = VAE.from_seeds(20, "vmf", 2, [1, 2], hidden=(16,))
    x = torch.bernoulli(torch.rand(2, 8, 20, generator=torch.Generator().manual_seed(1)))
    flat = FlatVAE(model, 1e-2, "float32")
    flat.step(x, 1.0, _generators(seeds))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    _autograd_gradient(model, x, 1.0, seeds)
    optimizer.step()
    torch.testing.assert_close(flat.parameters.detach(), torch.cat([p.detach().reshape(-1) for p in model.parameters()]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_select_keeps_the_chosen_runs_and_their_adam_state(precision):
    model = VAE.from_seeds(20, "normal", 2, [1, 2, 3], hidden=(16,))
    x = torch.bernoulli(torch.rand(3, 8, 20, generator=torch.Generator().manual_seed(1)))
    both = FlatVAE(model, 1e-2, precision)
    both.step(x, 1.0, _generators([4, 5, 6]))
    kept = FlatVAE(model, 1e-2, precision)
    kept.step(x, 1.0, _generators([4, 5, 6]))
    kept.select([0, 2])
    both.step(x, 1.0, _generators([7, 8, 9]))
    kept.step(x[[0, 2]], 1.0, _generators([7, 9]))
    torch.testing.assert_close(kept.rows(), both.rows()[[0, 2]])
    torch.testing.assert_close(kept.weights, kept.parameters.to(kept.dtype), rtol=0, atol=0)


def test_bfloat16_step_is_adam_on_its_gradient_with_the_weights_cast_after():
    """A bfloat16 step moves the float32 parameters as torch.optim.Adam does given the step's
    gradient (the wide layers' rounded to bfloat16), and leaves the next step's bfloat16 weights
    equal to the cast of the new parameters."""
    seeds = [3, 4]
    model = VAE.from_seeds(20, "vmf", 3, [1, 2], hidden=(16, 12))
    x = torch.bernoulli(torch.rand(2, 8, 20, generator=torch.Generator().manual_seed(1)))
    flat = FlatVAE(model, 1e-2, "bfloat16")
    start = flat.parameters.clone()
    parameter = torch.nn.Parameter(start.clone())
    parameter.grad = FlatVAE(model, 1e-2, "bfloat16").gradient(x, 0.3, _generators(seeds)).clone()
    torch.optim.Adam([parameter], lr=1e-2).step()
    flat.step(x, 0.3, _generators(seeds))
    assert not torch.equal(flat.parameters, start)
    torch.testing.assert_close(flat.parameters, parameter.detach(), rtol=1e-6, atol=1e-7)
    assert torch.equal(flat.weights, flat.parameters.bfloat16())


def _blobs(n: int, seed: int = 7) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(4, 32, generator=generator).round()
    return prototypes[torch.arange(n) % 4] * 0.8 + 0.1


SCHEDULE = TrainingSchedule(max_epochs=15, warmup_epochs=2, patience=2, batch_size=32, learning_rate=1e-2)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_a_run_in_an_ensemble_ends_as_it_would_alone(latent, precision):
    """Per-run early stopping and per-run randomness: each run of an ensemble stops at its own
    epoch and ends with the best epoch and parameters it reaches when trained alone, although the
    runs stop at different epochs (so frozen runs leave the ensemble while others train on).

    The vMF sampler's vectorised special functions round an entry differently at another
    position of a tensor, so a vMF run alone differs from itself in an ensemble by float32
    rounding; bfloat16 casts amplify those roundings into parameters that differ in places by
    percents, but not into the run's course: there the epochs and the best validation ELBO (to
    1e-3 nats) are what must agree."""
    train, valid = _blobs(128), _blobs(64)
    init, seeds = [11, 12, 13], [21, 22, 23]
    schedule = replace(SCHEDULE, precision=precision)
    ensemble = VAE.from_seeds(32, latent, 2, init, hidden=(16,))
    together = train_ensemble(ensemble, train, valid, schedule, binarize=True, seeds=seeds)
    assert len(set(together.epochs)) > 1, f"the runs should stop at different epochs: {together.epochs}"
    for r in range(3):
        single = VAE.from_seeds(32, latent, 2, init[r : r + 1], hidden=(16,))
        alone = train_ensemble(single, train, valid, schedule, binarize=True, seeds=seeds[r : r + 1])
        assert alone.best_epoch[0] == together.best_epoch[r] and alone.epochs[0] == together.epochs[r]
        if latent == "vmf" and precision == "bfloat16":
            assert abs(alone.best_valid_elbo[0] - together.best_valid_elbo[r]) < 1e-3
            continue
        for (name, p_ens), (_, p_one) in zip(ensemble.named_parameters(), single.named_parameters()):
            torch.testing.assert_close(p_ens[r : r + 1], p_one, rtol=1e-4, atol=1e-5, msg=name)


def test_early_stopping_follows_patience_and_min_improvement():
    train, valid = _blobs(128), _blobs(64)
    model = VAE.from_seeds(32, "normal", 2, [1, 2], hidden=(16,))
    schedule = replace(SCHEDULE, max_epochs=30, min_improvement=0.5)
    outcome = train_ensemble(model, train, valid, schedule, binarize=True, seeds=[3, 4])
    for r in range(2):
        history, best = outcome.history[r], outcome.best_epoch[r]
        assert best >= schedule.warmup_epochs and outcome.best_valid_elbo[r] == history[best]
        # The chosen epoch beat every earlier candidate's running best by > 0.5 nats, and no later
        # epoch did; training stopped `patience` epochs after the last improvement (or at the end).
        later = history[best + 1 :]
        assert all(value <= history[best] + 0.5 for value in later)
        assert outcome.epochs[r] == min(schedule.max_epochs, best + 1 + schedule.patience) or outcome.epochs[r] == schedule.max_epochs


def test_warmup_of_zero_epochs_trains():
    model = VAE.from_seeds(32, "vmf", 2, [1], hidden=(16,))
    schedule = TrainingSchedule(max_epochs=3, warmup_epochs=0, patience=5, batch_size=32)
    outcome = train_ensemble(model, _blobs(64), _blobs(32), schedule, binarize=True, seeds=[2])
    assert outcome.epochs == [3] and outcome.best_epoch[0] >= 0


def test_a_run_never_finite_after_warmup_raises():
    model = VAE.from_seeds(32, "normal", 2, [1, 2], hidden=(16,))
    with torch.no_grad():
        model.decoder[-1].bias[1] = math.nan
    schedule = TrainingSchedule(max_epochs=4, warmup_epochs=1, patience=5, batch_size=32)
    with pytest.raises(FloatingPointError, match=r"runs \[1\].*never had a finite validation ELBO"):
        train_ensemble(model, _blobs(64), _blobs(32), schedule, binarize=True, seeds=[3, 4])


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_training_resumes_from_its_checkpoint(tmp_path, monkeypatch, precision):
    """A run killed during epoch 5 of 8 and resumed from its checkpoint (written after epoch 4)
    ends exactly where an uninterrupted run ends, and reports the seconds trained before it (in
    bfloat16 the resumed engine must rebuild the weights' bfloat16 copy from the checkpoint)."""
    train, valid = _blobs(128), _blobs(32)
    schedule = TrainingSchedule(max_epochs=8, warmup_epochs=2, patience=50, batch_size=32, precision=precision)
    straight = VAE.from_seeds(32, "vmf", 2, [1, 2], hidden=(16,))
    expected = train_ensemble(straight, train, valid, schedule, binarize=True, seeds=[5, 6])

    checkpoint = tmp_path / "ckpt.pt"
    calls = {"n": 0}
    original = FlatVAE.elbo

    def dies_in_epoch_5(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FlatVAE, "elbo", dies_in_epoch_5)
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(VAE.from_seeds(32, "vmf", 2, [1, 2], hidden=(16,)), train, valid, schedule, binarize=True, seeds=[5, 6], checkpoint=checkpoint, checkpoint_every=2)
    monkeypatch.setattr(FlatVAE, "elbo", original)
    assert checkpoint.exists()
    resumed = VAE.from_seeds(32, "vmf", 2, [1, 2], hidden=(16,))
    trained_s = torch.load(checkpoint, weights_only=False)["trained_s"]
    outcome = train_ensemble(resumed, train, valid, schedule, binarize=True, seeds=[5, 6], checkpoint=checkpoint, checkpoint_every=2)
    assert outcome.history == expected.history and outcome.best_epoch == expected.best_epoch
    assert expected.earlier_s == 0.0 and outcome.earlier_s == trained_s > 0
    for a, b in zip(straight.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_dynamic_binarisation_draws_the_right_probabilities():
    """x = 1 with probability t/65536, t = min(round(65536 p), 65535), which is p to within 1.6e-5
    for every intensity p = k/255 (exactly 0 at p = 0). Monte Carlo check of t/65536: 10000 draws
    per pixel, 2048 (run, pixel) cells, every |mean - t/65536| within 5 binomial sd (a false
    alarm has probability 1e-3 over the cells; seeded), the mean squared z-score within 10% of 1.
    The draws are run-specific."""
    p = torch.arange(256, dtype=torch.float64).div(255).repeat(4).reshape(1, 1024)
    exact = (p * 65536).round().clamp(max=65535) / 65536
    assert (exact - p).abs().max() <= 1.6e-5 and (exact[p == 0] == 0).all()
    batches = _Batches(p.float(), binarize=True, dtype=torch.float32)
    index = torch.zeros(2, 40, dtype=torch.long)
    noise = _generators([1, 2])
    mean = torch.stack([batches.serve(index, noise) for _ in range(250)]).double().mean(dim=(0, 2))  # (runs, 1024)
    sd = torch.sqrt(exact * (1 - exact) / 10000)
    assert ((mean - exact).abs() <= 5 * sd).all()
    interior = (exact[0] > 0) & (exact[0] < 1)
    z = ((mean - exact) / sd)[:, interior]
    assert abs(float((z**2).mean()) - 1) < 0.1
    assert not torch.equal(batches.serve(index, noise)[0], batches.serve(index, noise)[1])


def test_schedule_rejects_bad_settings():
    with pytest.raises(ValueError, match="precision"):
        TrainingSchedule(max_epochs=5, warmup_epochs=1, patience=1, precision="float16")
    with pytest.raises(ValueError, match="min_improvement"):
        TrainingSchedule(max_epochs=5, warmup_epochs=1, patience=1, min_improvement=-1)
    with pytest.raises(ValueError, match="one seed per run"):
        train_ensemble(VAE(32, "normal", 2, hidden=(8,), runs=2), _blobs(32), _blobs(32), SCHEDULE, True, seeds=[1])
    assert {f.name for f in fields(TrainingSchedule)} >= {"precision", "min_improvement", "batch_size"}
    assert set(flat_vae.PRECISIONS) == {"float32", "bfloat16"}


@pytest.mark.parametrize("stream", ["order", "binarization", "noise"])
def test_one_stream_varies_alone(stream):
    """Two runs with the same initial parameters and seed, whose named stream gets the same seed,
    train identically; giving that stream different seeds makes them differ."""
    train, valid = _blobs(128), _blobs(32)
    schedule = TrainingSchedule(max_epochs=3, warmup_epochs=1, patience=5, batch_size=32)
    same = train_ensemble(VAE.from_seeds(32, "vmf", 2, [1, 1], hidden=(16,)), train, valid, schedule, True, seeds=[5, 5], stream_seeds={stream: [7, 7]})
    assert same.history[0] == same.history[1]
    varied = train_ensemble(VAE.from_seeds(32, "vmf", 2, [1, 1], hidden=(16,)), train, valid, schedule, True, seeds=[5, 5], stream_seeds={stream: [7, 8]})
    assert varied.history[0] != varied.history[1]
    assert varied.history[0] == same.history[0]  # run 0 drew the same numbers in both ensembles


def test_streams_resume_from_the_checkpoint(tmp_path):
    train, valid = _blobs(128), _blobs(32)
    schedule = TrainingSchedule(max_epochs=6, warmup_epochs=1, patience=50, batch_size=32)
    streams = {"order": [3, 4], "noise": [8, 9]}
    expected = train_ensemble(VAE.from_seeds(32, "normal", 2, [1, 2], hidden=(16,)), train, valid, schedule, True, seeds=[5, 6], stream_seeds=streams)
    checkpoint = tmp_path / "ckpt.pt"
    short = replace(schedule, max_epochs=4)
    train_ensemble(VAE.from_seeds(32, "normal", 2, [1, 2], hidden=(16,)), train, valid, short, True, seeds=[5, 6], checkpoint=checkpoint, checkpoint_every=2, stream_seeds=streams)
    assert checkpoint.exists()
    resumed = train_ensemble(VAE.from_seeds(32, "normal", 2, [1, 2], hidden=(16,)), train, valid, schedule, True, seeds=[5, 6], checkpoint=checkpoint, checkpoint_every=2, stream_seeds=streams)
    assert resumed.history == expected.history


def test_unknown_streams_are_refused():
    with pytest.raises(ValueError, match="stream_seeds"):
        train_ensemble(VAE.from_seeds(32, "normal", 2, [1], hidden=(16,)), _blobs(64), _blobs(32), TrainingSchedule(max_epochs=1, warmup_epochs=0, patience=1, batch_size=32), True, seeds=[1], stream_seeds={"labels": [1]})


@pytest.mark.parametrize("activation", ["relu", "softplus"])
def test_flat_elbo_equals_the_modules_elbo(activation):
    """FlatVAE.elbo on the buffer equals VAE.elbo_terms on the module, drawing the same noise."""
    model = VAE.from_seeds(20, "normal", 3, [1, 2], hidden=(12,), activation=activation)
    x = torch.bernoulli(torch.rand(40, 20, generator=torch.Generator().manual_seed(0)))
    flat = FlatVAE(model, 1e-3).elbo(x, _generators([5, 6]), batch_size=40)
    with torch.no_grad():
        reconstruction, kl = model.elbo_terms(x.expand(2, -1, -1), _generators([5, 6]))
    torch.testing.assert_close(flat.float(), (reconstruction - kl).mean(dim=1), rtol=1e-5, atol=1e-5)


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation"):
        VAE(20, "normal", 2, activation="tanh")
