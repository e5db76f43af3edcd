"""The pairwise softplus network: its hand-written backward against finite differences, its
split first layer against M2 written with concatenated one-hot inputs, and its bfloat16 path
against float32 within bfloat16's resolution."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hvae_lib.models.m2 import M2
from hvae_lib.models.pairwise_mlp import pairwise_softplus_mlp

R, N, K, H = 2, 3, 4, 5


def _inputs(dtype=torch.float64, with_x=True):
    g = torch.Generator().manual_seed(0)
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype).requires_grad_()
    parts = (make(R, N, 1, H), make(R, 1, K, H))
    x, w_in = (make(R, N, K, 2), make(R, 2, H)) if with_x else (None, None)
    return parts, x, w_in, make(R, H, 3), make(R, 1, 3)


@pytest.mark.parametrize("with_x", [True, False])
def test_backward_matches_finite_differences(with_x):
    parts, x, w_in, w_out, b_out = _inputs(with_x=with_x)
    tensors = [*parts, w_out, b_out] + ([x, w_in] if with_x else [])

    def f(*args):
        p0, p1, wo, bo, *rest = args
        return pairwise_softplus_mlp((p0, p1), *(rest or [None, None]), wo, bo)

    assert torch.autograd.gradcheck(f, tensors, eps=1e-6, atol=1e-8)


def test_values_match_the_plain_formula():
    parts, x, w_in, w_out, b_out = _inputs()
    pre = parts[0] + parts[1] + (x.reshape(R, -1, 2) @ w_in).view(R, N, K, H)
    expected = (F.softplus(pre).reshape(R, -1, H) @ w_out + b_out).view(R, N, K, 3)
    torch.testing.assert_close(pairwise_softplus_mlp(parts, x, w_in, w_out, b_out), expected, rtol=1e-12, atol=1e-12)


def test_bfloat16_stays_within_its_resolution():
    parts, x, w_in, w_out, b_out = _inputs(torch.float32)
    exact = pairwise_softplus_mlp(parts, x, w_in, w_out, b_out)
    exact.sum().backward()
    exact_grads = [t.grad.clone() for t in (*parts, x, w_in, w_out, b_out)]
    for t in (*parts, x, w_in, w_out, b_out):
        t.grad = None
    fast = pairwise_softplus_mlp(parts, x, w_in, w_out, b_out, dtype=torch.bfloat16)
    fast.sum().backward()
    assert fast.dtype == torch.float32
    # bfloat16 keeps 8 significant bits: relative error ~ 2^-8 per rounding, a few roundings deep.
    torch.testing.assert_close(fast, exact, rtol=0.03, atol=0.03 * exact.abs().max().item())
    for exact_grad, t in zip(exact_grads, (*parts, x, w_in, w_out, b_out)):
        torch.testing.assert_close(t.grad, exact_grad, rtol=0.03, atol=0.03 * exact_grad.abs().max().item())


def test_bad_arguments_are_refused():
    parts, x, w_in, w_out, b_out = _inputs()
    with pytest.raises(ValueError, match="at least one part"):
        pairwise_softplus_mlp((), x, w_in, w_out, b_out)
    with pytest.raises(ValueError, match="together"):
        pairwise_softplus_mlp(parts, x, None, w_out, b_out)


def _concatenated_bound(model: M2, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """L(z1, y) for every class, with M2's networks applied to [u, onehot(y)] as written in its
    docstring: a matmul per pair, plain autograd."""
    runs, n, _ = z1.shape
    onehot = torch.eye(model.classes, dtype=z1.dtype).expand(runs, n, -1, -1)
    pairs_z1 = z1.unsqueeze(2).expand(-1, -1, model.classes, -1)
    layer = lambda lin, u: torch.baddbmm(lin.bias, u.reshape(runs, -1, u.shape[-1]), lin.weight)
    h = F.softplus(layer(model.encoder[0], torch.cat([pairs_z1, onehot], -1)))
    loc, raw = layer(model.loc_head, h), layer(model.scale_head, h)
    g = F.softplus(layer(model.decoder[0], torch.cat([z2, onehot], -1)))
    mean, log_var = layer(model.mean_head, g), layer(model.log_var_head, g)
    target = pairs_z1.reshape(runs, -1, model.x_dim)
    log_lik = (-0.5 * (math.log(2 * math.pi) + log_var + (target - mean) ** 2 / log_var.exp())).sum(-1)
    scale = F.softplus(raw) + 1e-6
    kl = (0.5 * (loc**2 + scale**2 - 1) - torch.log(scale)).sum(-1)
    return (log_lik - math.log(model.classes) - kl).view(runs, n, model.classes)


def test_m2_bound_equals_the_concatenated_network():
    model = M2(3, "normal", 2, classes=K, hidden=H, runs=R, generator=torch.Generator().manual_seed(1)).double()
    z1 = torch.randn(R, N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    z2 = torch.randn(R, N, K, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    q_y = F.softmax(model.class_logits(z1), -1)
    expected = (q_y * _concatenated_bound(model, z1, z2)).sum() - (q_y * q_y.log()).sum()
    expected_grads = torch.autograd.grad(expected, list(model.parameters()))
    enumerated = model.unlabelled_bound(z1, z2=z2).sum()
    grads = torch.autograd.grad(enumerated, list(model.parameters()))
    torch.testing.assert_close(enumerated, expected, rtol=1e-12, atol=1e-12)
    for (name, _), grad, expected_grad in zip(model.named_parameters(), grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("latent", ["normal", "vmf"])
def test_the_benchmarks_concatenated_peer_computes_the_same_loss(latent, monkeypatch):
    """benchmarks/m2.py times the concatenated formulation as the peer: it must be the same model."""
    import importlib.util
    from pathlib import Path

    folder = Path(__file__).parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))  # the script imports its neighbour ensemble.py
    spec = importlib.util.spec_from_file_location("m2_benchmark", folder / "m2.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    ours = M2.from_seeds(4, latent, 3, [0, 1], hidden=7).double()
    peer = benchmark.ConcatenatedM2.from_seeds(4, latent, 3, [0, 1], hidden=7).double()
    z1 = torch.randn(2, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    labels = torch.tensor([[1, 2], [3, 4]])
    losses = []
    for model in (ours, peer):
        torch.manual_seed(7)
        losses.append(model.loss(z1[:, :2], labels, z1[:, 2:], alpha=10.0))
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-12, atol=1e-10)
