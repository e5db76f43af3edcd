"""MNIST and Fashion-MNIST in torchvision's raw layout (``<data_dir>/MNIST/raw/*.gz``).

The gzipped idx files are parsed here rather than through ``torchvision.datasets.MNIST``, which
reads only the decompressed files that its own download writes beside them: a read-only
directory holding the ``.gz`` files (the shared offline copy, a mirror) would otherwise have to
be decompressed into a writable copy first. The layout is torchvision's, so a directory it
prepared works here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hvae_lib.data.files import RemoteFile, data_dir, ensure_files, read_verified

_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

# SHA-256 of the decompressed idx files.
_CONTENT_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_MIRRORS = {"mnist": _MNIST_MIRRORS, "fashion-mnist": _FASHION_MIRRORS}


@dataclass(frozen=True)
class ImageSplit:
    """Grey-level images flattened to ``(n, 784)`` intensities in [0, 1], and their labels."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.labels.shape[0]

    def to(self, device: torch.device | str) -> ImageSplit:
        return ImageSplit(self.images.to(device), self.labels.to(device))

    def head(self, n: int) -> ImageSplit:
        """The first ``n`` examples (the splits are already shuffled)."""
        return ImageSplit(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class ImageDataset:
    """Train / validation / test splits of an image data set."""

    name: str
    train: ImageSplit
    valid: ImageSplit
    test: ImageSplit


def remote_files(name: str) -> list[RemoteFile]:
    """The four gzipped idx files of ``name`` ("mnist" or "fashion-mnist")."""
    return [
        RemoteFile(f"{stem}.gz", tuple(m + f"{stem}.gz" for m in _MIRRORS[name]), digest, gzipped=True)
        for stem, digest in _CONTENT_SHA256[name].items()
    ]


def load_images(
    name: str = "mnist",
    validation_size: int = 10000,
    split_seed: int = 0,
    root: Path | str | None = None,
    download: bool = True,
) -> ImageDataset:
    """Load ``name`` ("mnist" or "fashion-mnist") as train / validation / test splits.

    The official training images (60k) are permuted with ``split_seed``; the last
    ``validation_size`` of the permutation form the validation split, the rest the training
    split (shuffled). The test images (10k) keep their official order. The default, 50k / 10k,
    is the split of the paper's first author's own later training code (Table 1 uses it).
    """
    if name not in _CONTENT_SHA256:
        raise ValueError(f"name must be one of {sorted(_CONTENT_SHA256)}, got {name!r}")
    folder = Path(root or data_dir()) / _FOLDERS[name] / "raw"
    remotes = remote_files(name)
    ensure_files(folder, remotes, what=f"{name} data", download=download)
    arrays = {r.name.removesuffix(".gz"): _parse_idx(read_verified(folder / r.name, r)) for r in remotes}
    train = ImageSplit(_intensities(arrays["train-images-idx3-ubyte"]), torch.from_numpy(arrays["train-labels-idx1-ubyte"].astype(np.int64)))
    test = ImageSplit(_intensities(arrays["t10k-images-idx3-ubyte"]), torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64)))
    return split_validation(name, train, test, validation_size, split_seed)


def split_validation(name: str, train: ImageSplit, test: ImageSplit, validation_size: int, split_seed: int) -> ImageDataset:
    """Permute the official training images with ``split_seed``; the last ``validation_size`` of
    the permutation form the validation split, the rest the (shuffled) training split."""
    n = len(train)
    if not 0 <= validation_size < n:
        raise ValueError(f"validation_size must be in [0, {n}), got {validation_size}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
    keep, held = order[: n - validation_size], order[n - validation_size :]
    return ImageDataset(
        name=name,
        train=ImageSplit(train.images[keep], train.labels[keep]),
        valid=ImageSplit(train.images[held], train.labels[held]),
        test=test,
    )


def _intensities(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)


def _parse_idx(raw: bytes) -> np.ndarray:
    """Parse an idx file of unsigned bytes: magic 0x0000080N, N big-endian int32 sizes, data."""
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError("not an idx file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"idx file holds {data.size} bytes of data, its header says shape {shape}")
    return data.reshape(shape)
