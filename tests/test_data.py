"""The data layer on tiny synthetic files in the real layouts (never the real data sets)."""

from __future__ import annotations

import gzip
import hashlib
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from hvae_lib.data import BinarizedBatches, DataUnavailableError, ImageSplit, data_dir, load_images, load_planetoid
from hvae_lib.data.files import RemoteFile, ensure_files
from hvae_lib.data.images import _parse_idx
from tests.conftest import PLANETOID_NODES, idx_bytes, write


def test_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HVAE_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("HVAE_DATA_DIR")
    assert data_dir().name == "data" and (data_dir().parent / "hvae_lib").is_dir()


def test_parse_idx_round_trip_and_bad_magic():
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(_parse_idx(idx_bytes(array)), array)
    with pytest.raises(ValueError, match="magic"):
        _parse_idx(b"\x00\x00\x0d\x01" + bytes(8))
    with pytest.raises(ValueError, match="shape"):
        _parse_idx(idx_bytes(array)[:-1])


def test_load_images_splits(tiny_mnist, offline):
    root, arrays = tiny_mnist
    data = load_images("mnist", validation_size=12, split_seed=3, root=root)
    assert (len(data.train), len(data.valid), len(data.test)) == (48, 12, 10)
    assert data.train.images.shape == (48, 784) and data.train.images.dtype == torch.float32
    # Train and validation partition the official training set, with labels kept in step.
    flat = torch.from_numpy(arrays["train-images-idx3-ubyte"].reshape(60, -1) / 255.0).float()
    both = torch.cat([data.train.images, data.valid.images])
    match = (both[:, None, :] == flat[None, :, :]).all(-1)
    assert match.sum(1).eq(1).all() and match.sum(0).eq(1).all()
    source_labels = torch.from_numpy(arrays["train-labels-idx1-ubyte"])[match.float().argmax(1)]
    assert torch.equal(source_labels, torch.cat([data.train.labels, data.valid.labels]))
    # The test split keeps the official order; the split is a pure function of the seed.
    assert torch.equal(data.test.labels, torch.arange(10))
    again = load_images("mnist", validation_size=12, split_seed=3, root=root)
    assert torch.equal(again.valid.images, data.valid.images)
    other = load_images("mnist", validation_size=12, split_seed=4, root=root)
    assert not torch.equal(other.valid.images, data.valid.images)


def test_load_images_rejects_bad_arguments(tiny_mnist, offline):
    root, _ = tiny_mnist
    with pytest.raises(ValueError, match="name must be one of"):
        load_images("cifar", root=root)
    with pytest.raises(ValueError, match="validation_size must be in"):
        load_images("mnist", validation_size=60, root=root)


def test_corrupt_file_is_reported(tiny_mnist, offline):
    root, _ = tiny_mnist
    path = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10)[::-1])))
    with pytest.raises(DataUnavailableError, match="corrupt.*t10k-labels"):
        load_images("mnist", root=root)


def test_missing_files_offline_fail_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("HVAE_DATA_DIR", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(DataUnavailableError) as error:
        load_images("mnist", root=tmp_path, download=True)
    assert time.perf_counter() - start < 30
    message = str(error.value)
    for expected in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", str(tmp_path / "MNIST" / "raw"), "HVAE_DATA_DIR"):
        assert expected in message
    assert not any((tmp_path / "MNIST" / "raw").glob("*"))


def test_download_is_verified_and_atomic(tmp_path):
    content = b"some data"
    source = write(tmp_path / "server" / "file.bin", content)
    good = RemoteFile("file.bin", (source.as_uri(),), hashlib.sha256(content).hexdigest())
    target_dir = tmp_path / "cache"
    ensure_files(target_dir, [good], what="test data")
    assert (target_dir / "file.bin").read_bytes() == content
    # A download whose content does not match its checksum is not kept, nor its partial file.
    bad = RemoteFile("other.bin", (source.as_uri(),), "0" * 64)
    with pytest.raises(DataUnavailableError, match="other.bin"):
        ensure_files(target_dir, [bad], what="test data")
    assert sorted(p.name for p in target_dir.iterdir()) == ["file.bin"]


def test_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    class Broken:
        def __init__(self):
            self.sent = False

        def read(self, size=-1):
            if self.sent:
                raise urllib.error.URLError(TimeoutError("connection dropped"))
            self.sent = True
            return b"half"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Broken())
    remote = RemoteFile("big.bin", ("https://example.invalid/big.bin",), "0" * 64)
    with pytest.raises(DataUnavailableError, match="big.bin"):
        ensure_files(tmp_path, [remote], what="test data")
    assert list(tmp_path.iterdir()) == []


def test_binarized_batches_training_draws_are_fresh_and_unbiased():
    torch.manual_seed(0)
    split = ImageSplit(torch.rand(200, 784), torch.arange(200))
    batches = BinarizedBatches(split, batch_size=64, shuffle=True, seed=1)
    first = torch.cat([x for x, _ in batches])
    second = torch.cat([x for x, _ in batches])
    assert len(batches) == 4 and first.shape == (200, 784)
    assert set(first.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(first, second)
    # Unbiased: over many passes the mean draw approaches the intensity. With 400 passes the
    # standard error per pixel is at most 0.025; the mean absolute error over 156,800 pixels
    # then concentrates near 0.8 * 0.025 * sqrt(p(1-p))/0.5 < 0.02.
    order_free = BinarizedBatches(split, batch_size=200, seed=2)
    mean = torch.stack([next(iter(order_free))[0] for _ in range(400)]).mean(0)
    assert (mean - split.images).abs().mean() < 0.02


def test_binarized_batches_evaluation_draws_repeat():
    split = ImageSplit(torch.rand(50, 784), torch.arange(50))
    fixed = BinarizedBatches(split, batch_size=20, seed=7, resample=False)
    assert torch.equal(torch.cat([x for x, _ in fixed]), torch.cat([x for x, _ in fixed]))
    same_seed = BinarizedBatches(split, batch_size=20, seed=7, resample=False)
    assert torch.equal(torch.cat([x for x, _ in fixed]), torch.cat([x for x, _ in same_seed]))
    with pytest.raises(ValueError, match="needs a seed"):
        BinarizedBatches(split, batch_size=20, resample=False)
    with pytest.raises(ValueError, match="batch_size"):
        BinarizedBatches(split, batch_size=0)


def test_load_planetoid_builds_the_graph(tiny_cora, offline):
    graph = load_planetoid("Cora", root=tiny_cora)
    n = PLANETOID_NODES
    assert graph.num_nodes == n and graph.num_features == 5
    # n - 1 path edges plus the closing edge, each stored in both directions.
    assert graph.edge_index.shape == (2, 2 * n)
    edges = {tuple(e) for e in graph.edge_index.t().tolist()}
    assert (0, n - 1) in edges and (n - 1, 0) in edges and (3, 4) in edges and (4, 3) in edges
    assert torch.equal(graph.y, torch.arange(n) % 3)


def test_load_planetoid_missing_file_offline(tiny_cora, offline):
    (tiny_cora / "Planetoid" / "Cora" / "raw" / "ind.cora.allx").unlink()
    with pytest.raises(DataUnavailableError, match=r"(?s)ind\.cora\.allx.*Planetoid/Cora/raw") as error:
        load_planetoid("Cora", root=tiny_cora)
    assert error.value.missing == ("ind.cora.allx",)
    with pytest.raises(ValueError, match="name must be one of"):
        load_planetoid("Reddit", root=tiny_cora)


def test_a_truncated_gzip_gets_the_clear_error(tiny_mnist, offline):
    """Not a bare EOFError: the corrupt-file message, naming the file and the fix."""
    root, _ = tiny_mnist
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataUnavailableError, match="train-images-idx3-ubyte.gz is corrupt: it does not decompress.*Delete it"):
        load_images("mnist", root=root)


def _cifar_batches(folder, rng):
    """Tiny CIFAR-10 pickles (4 images per training batch, 3 in the test batch) and their MD5s."""
    import pickle

    folder.mkdir(parents=True, exist_ok=True)
    digests, images = {}, {}
    for name, count in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 3)]:
        data = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
        images[name] = data
        content = pickle.dumps({"data": data, "labels": list(range(count))})
        (folder / name).write_bytes(content)
        digests[name] = hashlib.md5(content).hexdigest()
    meta = pickle.dumps({"label_names": [f"class {i}" for i in range(10)]})
    (folder / "batches.meta").write_bytes(meta)
    digests["batches.meta"] = hashlib.md5(meta).hexdigest()
    return digests, images


def test_cifar10_loads_the_batches_in_torchvisions_layout(tmp_path, monkeypatch, offline):
    from hvae_lib.data import cifar

    digests, images = _cifar_batches(tmp_path / "cifar-10-batches-py", np.random.default_rng(0))
    monkeypatch.setattr(cifar, "_MD5", digests)
    data = cifar.load_cifar10(validation_size=2, root=tmp_path)
    assert (len(data.train), len(data.valid), len(data.test)) == (18, 2, 3)
    np.testing.assert_allclose(data.test.images.numpy(), images["test_batch"] / 255, atol=1e-7)
    assert cifar.class_names(root=tmp_path)[3] == "class 3"
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not the batch")
    with pytest.raises(DataUnavailableError, match="test_batch is corrupt: MD5"):
        cifar.load_cifar10(root=tmp_path)


def test_cifar10_missing_offline_names_the_files(tmp_path, offline):
    from hvae_lib.data import load_cifar10

    with pytest.raises(DataUnavailableError) as error:
        load_cifar10(root=tmp_path)
    message = str(error.value)
    assert "data_batch_1" in message and "test_batch" in message and "HVAE_DATA_DIR" in message


def test_cifar10_archive_is_downloaded_checked_and_extracted(tmp_path, monkeypatch):
    import tarfile

    from hvae_lib.data import cifar

    source = tmp_path / "server"
    digests, _ = _cifar_batches(source / "cifar-10-batches-py", np.random.default_rng(1))
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(cifar, "_MD5", digests)
    monkeypatch.setattr(cifar, "ARCHIVE", RemoteFile("cifar-10-python.tar.gz", (archive.as_uri(),),
                                                     hashlib.md5(archive.read_bytes()).hexdigest(), algorithm="md5"))
    data = cifar.load_cifar10(root=tmp_path / "data")
    assert len(data.train) == 20
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["cifar-10-batches-py"]
