"""Datasets: fixed seeded splits, the IDX reader, Debian's Fashion-MNIST, clear errors."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from qdsformer.data import BatchLoader, build_dataset
from qdsformer.data.datasets import DEBIAN_FASHION_MNIST
from qdsformer.data.idx import read_idx


def test_digits_splits_are_fixed_disjoint_and_complete():
    splits = {s: build_dataset("digits", s) for s in ("train", "val", "test")}
    assert sum(len(d) for d in splits.values()) == 1797
    assert splits["train"].images.shape[1:] == (1, 8, 8)
    again = build_dataset("digits", "test")
    assert torch.equal(again.images, splits["test"].images)
    rows = {s: {tuple(x.flatten().tolist()) for x in d.images} for s, d in splits.items()}
    assert not rows["train"] & rows["test"]
    assert abs(float(splits["train"].images.mean())) < 1e-5  # standardised on train


def _write_idx(path: Path, array: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def test_idx_reader_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "x.gz", images, 0x08)
    assert np.array_equal(read_idx(tmp_path / "x.gz"), images)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_mnist_from_a_data_root_in_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem, n in (("train", 6000), ("t10k", 100)):
        _write_idx(raw / f"{stem}-images-idx3-ubyte.gz",
                   rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        _write_idx(raw / f"{stem}-labels-idx1-ubyte.gz",
                   rng.integers(0, 10, n, dtype=np.uint8), 0x08)
    train = build_dataset("mnist", "train", root=tmp_path)
    val = build_dataset("mnist", "val", root=tmp_path)
    test = build_dataset("mnist", "test", root=tmp_path)
    assert (len(train), len(val), len(test)) == (1000, 5000, 100)
    assert train.images.shape[1:] == (1, 28, 28) and train.labels.dtype == torch.int64


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found; looked in: .*data.root"):
        build_dataset("mnist", "train", root=tmp_path)


def test_fashion_mnist_loads_from_debian_files():
    if not (DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install dataset-fashion-mnist (apt-get) for this test")
        pytest.skip("Debian's dataset-fashion-mnist is not installed here")
    test = build_dataset("fashion-mnist", "test")
    train = build_dataset("fashion-mnist", "train")
    assert len(test) == 10000 and len(train) == 55000
    assert test.images.shape[1:] == (1, 28, 28)
    assert sorted(test.labels.unique().tolist()) == list(range(10))
    assert torch.bincount(test.labels).tolist() == [1000] * 10  # the official balanced test set


def test_bad_names():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        build_dataset("cifar", "train")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        build_dataset("digits", "dev")


def test_batch_order_depends_only_on_seed_and_epoch():
    data = build_dataset("digits", "val")
    a, b = BatchLoader(data, 32, shuffle=True, seed=3), BatchLoader(data, 32, shuffle=True, seed=3)
    a.set_epoch(2)
    list(b)  # b has been used for epoch 0 already
    b.set_epoch(2)
    assert all(torch.equal(x[1], y[1]) for x, y in zip(a, b))
    b.set_epoch(1)
    assert not torch.equal(next(iter(a))[1], next(iter(b))[1])
    assert sum(len(y) for _, y in a) == len(data)
