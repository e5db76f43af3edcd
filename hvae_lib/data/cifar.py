"""CIFAR-10 in torchvision's layout (``<data_dir>/cifar-10-batches-py/``), for the follow-up
paper's Figure 2 where it can be downloaded.

The six pickled batches and ``batches.meta`` are checked against the MD5s the publisher (and
torchvision) give. Missing files are fetched as the official ``cifar-10-python.tar.gz`` (checked
too), extracted in a temporary folder and moved into place; offline, the same clear error as the
other data sets names the missing files, the folder and how to supply them.
"""

from __future__ import annotations

import os
import pickle
import tarfile
import tempfile
import urllib.error
from pathlib import Path

import numpy as np
import torch

from hvae_lib.data.files import DataUnavailableError, RemoteFile, _download, _missing_message, data_dir, read_verified
from hvae_lib.data.images import ImageDataset, ImageSplit, split_validation

FOLDER = "cifar-10-batches-py"
ARCHIVE = RemoteFile("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                     "c58f30108f718f92721af3b95e74349a", algorithm="md5")
_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _files() -> list[RemoteFile]:
    return [RemoteFile(name, (), digest, algorithm="md5") for name, digest in _MD5.items()]


def _fetch(folder: Path) -> None:
    """Download and check the archive, extract it in a temporary folder, move the batches in."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".cifar-") as tmp:
        archive = Path(tmp) / ARCHIVE.name
        _download(ARCHIVE, archive)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        folder.mkdir(exist_ok=True)
        for name in _MD5:
            target = folder / name
            if not target.exists():
                os.replace(Path(tmp) / FOLDER / name, target)


def _batch(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    entry = pickle.loads(raw, encoding="latin1")
    return np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32), np.asarray(entry["labels"], dtype=np.int64)


def load_cifar10(validation_size: int = 0, split_seed: int = 0, root: Path | str | None = None, download: bool = True) -> ImageDataset:
    """CIFAR-10 as train / validation / test splits of flat (N, 3 * 32 * 32) intensities in [0, 1]
    (channel-major, as in the batches); the 50k training images are permuted with ``split_seed``
    and the last ``validation_size`` form the validation split."""
    folder = Path(root or data_dir()) / FOLDER
    files = _files()
    missing = [f.name for f in files if not (folder / f.name).exists()]
    if missing and download and os.environ.get("HVAE_OFFLINE") != "1":
        try:
            _fetch(folder)
        except (urllib.error.URLError, OSError, DataUnavailableError, tarfile.TarError) as error:
            reason = error
        else:
            reason = None
    else:
        reason = "downloads are disabled"
    missing = [f.name for f in files if not (folder / f.name).exists()]
    if missing:
        raise DataUnavailableError(_missing_message("cifar-10 data", folder, missing, reason), tuple(missing))
    batches = {f.name: read_verified(folder / f.name, f) for f in files}
    parts = [_batch(batches[name]) for name in TRAIN_BATCHES]
    train_x = torch.from_numpy(np.concatenate([p[0] for p in parts])).reshape(-1, 3072).float() / 255
    train_y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    test_images, test_labels = _batch(batches["test_batch"])
    test = ImageSplit(torch.from_numpy(test_images).reshape(-1, 3072).float() / 255, torch.from_numpy(test_labels))
    return split_validation("cifar10", ImageSplit(train_x, train_y), test, validation_size, split_seed)


def class_names(root: Path | str | None = None) -> list[str]:
    """The ten class names from ``batches.meta``."""
    folder = Path(root or data_dir()) / FOLDER
    meta = pickle.loads(read_verified(folder / "batches.meta", _files()[-1]), encoding="latin1")
    return list(meta["label_names"])

