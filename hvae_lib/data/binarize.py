"""Dynamic binarisation: x ~ Bernoulli(pixel intensity), drawn anew each time a batch is served."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from hvae_lib.data.images import ImageSplit


class BinarizedBatches:
    """Iterate over ``split`` in batches ``(x, labels)`` of binary images x ~ Bernoulli(split.images).

    One generator, seeded with ``seed`` (random when None), drives the order and the draws.
    With ``resample=True`` (training) it runs on across passes, so every epoch sees fresh
    Bernoulli draws and, with ``shuffle``, a fresh order. With ``resample=False``
    (evaluation) every pass restarts it from ``seed``, so every pass, and every model evaluated
    with the same seed, sees exactly the same binary images.
    """

    def __init__(
        self,
        split: ImageSplit,
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        resample: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if not resample and seed is None:
            raise ValueError("resample=False needs a seed: the fixed draws must be reproducible")
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(torch.randint(2**62, (1,)).item()) if seed is None else seed
        self.resample = resample
        self._generator = self._new_generator()

    def _new_generator(self) -> torch.Generator:
        return torch.Generator(device=self.split.images.device).manual_seed(self.seed)

    def __len__(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = self._generator if self.resample else self._new_generator()
        n = len(self.split)
        order = torch.randperm(n, generator=generator, device=self.split.images.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            index = slice(start, start + self.batch_size) if order is None else order[start : start + self.batch_size]
            yield torch.bernoulli(self.split.images[index], generator=generator), self.split.labels[index]
