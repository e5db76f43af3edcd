r"""Layers whose parameters are stacked over independent runs (an ensemble of R networks).

``EnsembleLinear`` holds R weight matrices and maps an input of shape (R, N, in) to (R, N, out)
with one batched matmul, y_r = x_r W_r + b_r. Runs share nothing: summing their losses gives
each run exactly the gradient it would get alone, and element-wise optimisers such as Adam then
update each run exactly as a separate optimiser would. Training R runs this way replaces R small
matmuls by one larger one per layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """R independent affine maps, initialised like ``torch.nn.Linear`` (U(-1/sqrt(in), 1/sqrt(in)))."""

    def __init__(self, runs: int, in_features: int, out_features: int, generator: torch.Generator | None = None):
        super().__init__()
        if runs < 1 or in_features < 1 or out_features < 1:
            raise ValueError(f"runs, in_features and out_features must be positive, got {runs}, {in_features}, {out_features}")
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(_uniform((runs, in_features, out_features), bound, generator))
        self.bias = nn.Parameter(_uniform((runs, 1, out_features), bound, generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Sequential):
    """Ensemble linear layers of the given widths with ``activation`` (ReLU by default) between
    them (and after the last if ``final_activation``)."""

    def __init__(
        self, runs: int, widths: Sequence[int], final_activation: bool = False, generator: torch.Generator | None = None,
        activation: type[nn.Module] = nn.ReLU,
    ):
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(EnsembleLinear(runs, n_in, n_out, generator))
            if final_activation or i < len(widths) - 2:
                layers.append(activation())
        super().__init__(*layers)


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def stack_seeded_runs(build, seeds: Sequence[int]) -> nn.Module:
    """An ensemble whose run r is initialised as ``build(1, torch.Generator().manual_seed(seeds[r]))``
    alone (``build(runs, generator)`` makes an ensemble module): a run's initial parameters
    depend on its seed only, never on the other runs."""
    if not seeds:
        raise ValueError("from_seeds needs at least one seed")
    singles = [build(1, torch.Generator().manual_seed(int(s))) for s in seeds]
    model = build(len(seeds), None)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.cat([dict(single.named_parameters())[name] for single in singles]))
    return model


def run_parameters(module: nn.Module, run: int) -> dict[str, torch.Tensor]:
    """The parameters of run ``run`` of an ensemble module, as a state dict of a 1-run ensemble."""
    return {name: p[run : run + 1].detach().clone() for name, p in module.named_parameters()}
