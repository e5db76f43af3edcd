r"""The follow-up paper's VAE: a Gaussian encoder, a sigmoid decoder and the MSE likelihood.

One network serves both of the paper's models:

- the standard beta-VAE: z = mu + sigma * eps, loss MSE + beta KLD (``standard_kld``);
- the compressed VAE: the same z projected onto the sphere of radius sqrt(n),
  z <- sqrt(n) z / |z| (``normalize_z``), loss MSE + beta KLD_HSph (``CompressionLoss``).

The encoder gives (mu, logvar) in R^n from one linear head of width 2n. Two architectures:

- ``mlp``: 784-512-256-(2n) / n-256-512-784 with ReLU, an ensemble of ``runs`` independent
  networks (``hvae_lib.models.ensemble``), for the CPU profiles;
- ``resnet``: the Soft-IntroVAE residual network the authors' code uses (channels 16/32/64 on
  32 x 32 input; 28 x 28 images are zero-padded to 32 x 32 and the output cropped back), one run.

Images go in and come out flat, shape (runs, batch, C*H*W), values in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hvae_lib.distributions import Noise
from hvae_lib.models.ensemble import EnsembleLinear, EnsembleMLP

ARCHITECTURES = ("mlp", "resnet")


class ImageVAE(nn.Module):
    """``runs`` VAEs with latent dimension ``n`` for images of ``image_shape`` (C, H, W).

    Args:
        n: latent dimension.
        image_shape: (channels, height, width) of the data, e.g. (1, 28, 28).
        architecture: "mlp" or "resnet" (``runs`` must be 1).
        normalize_z: project each z onto the sphere of radius sqrt(n) (the compressed VAE).
        hidden: the MLP's widths.
        channels: the residual network's channels.
        runs: independent models held together (MLP only).
        generator: seeds the initial parameters of the MLP.
    """

    def __init__(
        self,
        n: int,
        image_shape: Sequence[int] = (1, 28, 28),
        architecture: str = "mlp",
        normalize_z: bool = False,
        hidden: Sequence[int] = (512, 256),
        channels: Sequence[int] = (16, 32, 64),
        runs: int = 1,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if n < 2:
            raise ValueError(f"the latent dimension n must be >= 2, got {n}")
        if architecture == "resnet" and runs != 1:
            raise ValueError("the residual network trains one run at a time (runs = 1)")
        self.n, self.runs, self.architecture, self.normalize_z = n, runs, architecture, normalize_z
        self.image_shape = tuple(image_shape)
        x_dim = math.prod(self.image_shape)
        if architecture == "mlp":
            self.encoder = EnsembleMLP(runs, [x_dim, *hidden], final_activation=True, generator=generator)
            self.head = EnsembleLinear(runs, hidden[-1], 2 * n, generator)
            self.decoder = nn.Sequential(EnsembleMLP(runs, [n, *reversed(hidden), x_dim], generator=generator), nn.Sigmoid())
        else:
            self.encoder = ResidualEncoder(self.image_shape[0], channels, 2 * n)
            self.head = nn.Identity()
            self.decoder = ResidualDecoder(self.image_shape[0], channels, n)

    @classmethod
    def from_seeds(cls, n: int, seeds: Sequence[int], **kwargs) -> ImageVAE:
        """An MLP ensemble whose run r is initialised from ``torch.Generator().manual_seed(seeds[r])``
        alone, so a run's initial parameters depend on its seed only."""
        if not seeds:
            raise ValueError("from_seeds needs at least one seed")
        if kwargs.get("architecture") == "resnet":
            if len(seeds) != 1:
                raise ValueError("the residual network trains one run at a time (one seed)")
            torch.manual_seed(int(seeds[0]))
            return cls(n, runs=1, **kwargs)
        singles = [cls(n, runs=1, generator=torch.Generator().manual_seed(int(s)), **kwargs) for s in seeds]
        model = cls(n, runs=len(seeds), **kwargs)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.cat([dict(single.named_parameters())[name] for single in singles]))
        return model

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder.parameters(), *self.head.parameters()]

    def decoder_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (runs, batch, n), for flat images x of shape (runs, batch, C*H*W)."""
        if self.architecture == "mlp":
            out = self.head(self.encoder(x))
        else:
            runs, batch = x.shape[:2]
            out = self.encoder(_padded(x.reshape(runs * batch, *self.image_shape))).reshape(runs, batch, -1)
        return out[..., : self.n], out[..., self.n :]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Flat images in [0, 1], (runs, batch, C*H*W), for z of shape (runs, batch, n)."""
        if self.architecture == "mlp":
            return self.decoder(z)
        runs, batch = z.shape[:2]
        images = _cropped(self.decoder(z.reshape(runs * batch, self.n)), self.image_shape[1:])
        return images.reshape(runs, batch, -1)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor, noise: Noise | None = None) -> torch.Tensor:
        """z = mu + exp(logvar / 2) eps, eps ~ N(0, I) (from ``noise``, one generator per run, or
        torch's global generator), then onto the sphere of radius sqrt(n) if ``normalize_z``."""
        if noise is None:
            eps = torch.randn_like(mu)
        else:
            eps = noise.randn(noise.split(mu.numel()), mu.dtype, mu.device).reshape(mu.shape)
        z = mu + (0.5 * logvar).exp() * eps
        return self.to_sphere(z) if self.normalize_z else z

    def to_sphere(self, z: torch.Tensor) -> torch.Tensor:
        """sqrt(n) z / |z|."""
        return math.sqrt(self.n) * F.normalize(z, dim=-1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code of x: mu, on the sqrt(n) sphere for the compressed VAE."""
        mu, _ = self.encode(x)
        return self.to_sphere(mu) if self.normalize_z else mu


def _padded(images: torch.Tensor) -> torch.Tensor:
    """Zero-pad H and W up to 32 (28 x 28 -> 32 x 32), evenly on both sides."""
    pad_h, pad_w = 32 - images.shape[-2], 32 - images.shape[-1]
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"the residual network takes images of at most 32 x 32, got {tuple(images.shape[-2:])}")
    return F.pad(images, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def _cropped(images: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    top, left = (32 - size[0]) // 2, (32 - size[1]) // 2
    return images[..., top : top + size[0], left : left + size[1]]


class ResidualBlock(nn.Module):
    """conv3x3 - BN - LeakyReLU(0.2) - conv3x3 - BN, plus the input (through a 1x1 conv when the
    channel count changes), then LeakyReLU(0.2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.expand = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.body(x) + self.expand(x), 0.2)


class ResidualEncoder(nn.Sequential):
    """conv5x5 - BN - LReLU - pool, then a residual block and a pool per channel step, a last
    residual block, flatten (channels[-1] x 4 x 4) and a linear map to ``out``."""

    def __init__(self, c_in: int, channels: Sequence[int], out: int):
        layers: list[nn.Module] = [nn.Conv2d(c_in, channels[0], 5, padding=2, bias=False), nn.BatchNorm2d(channels[0]),
                                   nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
        for a, b in zip(channels[:-1], channels[1:]):
            layers += [ResidualBlock(a, b), nn.AvgPool2d(2)]
        layers += [ResidualBlock(channels[-1], channels[-1]), nn.Flatten(), nn.Linear(channels[-1] * 16, out)]
        super().__init__(*layers)


class ResidualDecoder(nn.Module):
    """linear n -> channels[-1] x 4 x 4 - BN - LReLU, residual blocks with nearest-neighbour
    upsampling back to 32 x 32, conv5x5 and a sigmoid."""

    def __init__(self, c_out: int, channels: Sequence[int], n: int):
        super().__init__()
        top = channels[-1]
        self.project = nn.Sequential(nn.Linear(n, top * 16), nn.BatchNorm1d(top * 16), nn.LeakyReLU(0.2))
        widths = [top, *reversed(channels)]  # (64, 64, 32, 16) for channels (16, 32, 64)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [ResidualBlock(a, b), nn.Upsample(scale_factor=2, mode="nearest")]
        layers += [ResidualBlock(widths[-1], widths[-1]), nn.Conv2d(widths[-1], c_out, 5, padding=2), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)
        self.top = top

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).reshape(-1, self.top, 4, 4))
