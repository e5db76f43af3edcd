"""Shared fixtures: tiny synthetic data sets in the real on-disk layouts."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from hvae_lib.data import images, planetoid


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file of unsigned bytes holding ``array``."""
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """A data directory with a 60/10-image "mnist" in torchvision's raw layout; returns it and the arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(60, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(60) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(10, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(10),
    }
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    digests = {}
    for stem, array in arrays.items():
        content = idx_bytes(array)
        (raw / f"{stem}.gz").write_bytes(gzip.compress(content))
        digests[stem] = hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(images._CONTENT_SHA256, "mnist", digests)
    return tmp_path, arrays


PLANETOID_NODES = 507


def _planetoid_files(n_train: int = 4, n_test: int = 3, n_unlabelled: int = 500):
    """A Planetoid graph (PyG reads the 500 nodes after the training ones as validation nodes):
    a path 0-1-...-(n-1) closed into a cycle, and its raw pickles."""
    n = n_train + n_unlabelled + n_test
    features = np.eye(n, 5, dtype=np.float32) + 0.5
    labels = np.eye(3)[np.arange(n) % 3]
    allx_rows = n_train + n_unlabelled
    graph = {i: [j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)}
    graph[0].append(n - 1)
    graph[n - 1].append(0)
    test_index = list(range(allx_rows, n))
    return {
        "x": sp.csr_matrix(features[:n_train]),
        "tx": sp.csr_matrix(features[allx_rows:]),
        "allx": sp.csr_matrix(features[:allx_rows]),
        "y": labels[:n_train],
        "ty": labels[allx_rows:],
        "ally": labels[:allx_rows],
        "graph": graph,
        "test.index": test_index,
    }


@pytest.fixture
def tiny_cora(tmp_path, monkeypatch):
    """A data directory holding a small cycle graph as Planetoid "Cora"; returns the directory."""
    raw = tmp_path / "Planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    digests = {}
    for part, obj in _planetoid_files().items():
        content = "\n".join(map(str, obj)).encode() if part == "test.index" else pickle.dumps(obj)
        (raw / f"ind.cora.{part}").write_bytes(content)
        digests[part] = hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(planetoid._SHA256, "Cora", digests)
    return tmp_path


@pytest.fixture
def offline(monkeypatch):
    """Make every URL fail as it does on a machine without network."""
    import urllib.error
    import urllib.request

    def refuse(url, timeout=None):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
