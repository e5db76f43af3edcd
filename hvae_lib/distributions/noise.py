r"""Where a sampler's random numbers come from.

A sampler asks for ``n`` independent uniforms, standard normals or standard Gamma(alpha) draws at
a time, as a flat tensor. ``GlobalNoise`` takes them from torch's global generator (what
``torch.distributions`` does). ``RunNoise`` holds one ``torch.Generator`` per run of an ensemble
whose batch is laid out run-major (run r owns the r-th contiguous block of every flat batch): a
request names how many values each run needs, and run r's values come from run r's generator
only. So a run draws exactly the same numbers whether it is sampled alone or beside any other
runs, which is what makes an ensemble run reproducible from its own seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["GlobalNoise", "Noise", "RunNoise"]


class Noise:
    """A source of i.i.d. draws; ``counts`` gives how many values each run needs (one run for
    ``GlobalNoise``), and the result concatenates them in run order."""

    runs: int = 1

    def rand(self, counts: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """U[0, 1) draws."""
        raise NotImplementedError

    def randn(self, counts: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """N(0, 1) draws."""
        raise NotImplementedError

    def standard_gamma(self, alpha: float, counts: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Gamma(alpha, 1) draws."""
        raise NotImplementedError

    def split(self, n: int) -> list[int]:
        """Per-run counts for a run-major flat batch of ``n`` values (``n`` divisible by runs)."""
        if n % self.runs:
            raise ValueError(f"a batch of {n} values does not split evenly over {self.runs} runs")
        return [n // self.runs] * self.runs


class GlobalNoise(Noise):
    """Draws from torch's global generator."""

    def rand(self, counts, dtype, device):
        return torch.rand(sum(counts), dtype=dtype, device=device)

    def randn(self, counts, dtype, device):
        return torch.randn(sum(counts), dtype=dtype, device=device)

    def standard_gamma(self, alpha, counts, dtype, device):
        return torch._standard_gamma(torch.full((sum(counts),), alpha, dtype=dtype, device=device))


class RunNoise(Noise):
    """One generator per run: run r's draws come from ``generators[r]`` alone.

    Args:
        generators: one ``torch.Generator`` per run, on the device the draws are made on.
    """

    def __init__(self, generators: Sequence[torch.Generator]):
        if not generators:
            raise ValueError("RunNoise needs at least one generator")
        self.generators = list(generators)
        self.runs = len(self.generators)

    def _draw(self, counts, fill):
        if len(counts) != self.runs:
            raise ValueError(f"expected counts for {self.runs} runs, got {len(counts)}")
        # a generator asked for no values is not called (its state would not move either)
        parts = [fill(int(n), g) for n, g in zip(counts, self.generators) if n] or [fill(0, self.generators[0])]
        return torch.cat(parts)

    def rand(self, counts, dtype, device):
        return self._draw(counts, lambda n, g: torch.rand(n, generator=g, dtype=dtype, device=device))

    def randn(self, counts, dtype, device):
        return self._draw(counts, lambda n, g: torch.randn(n, generator=g, dtype=dtype, device=device))

    def standard_gamma(self, alpha, counts, dtype, device):
        return self._draw(
            counts, lambda n, g: torch._standard_gamma(torch.full((n,), alpha, dtype=dtype, device=device), generator=g)
        )

    def select(self, runs: Sequence[int]) -> RunNoise:
        """The source of a sub-ensemble holding ``runs`` (the same generator objects)."""
        return RunNoise([self.generators[r] for r in runs])
