"""IDX files (MNIST, Fashion-MNIST) that are truncated, corrupted or inconsistent: clear errors."""

import gzip

import numpy as np
import pytest

from qdsformer.data import build_dataset
from qdsformer.data.idx import read_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def test_truncated_gzip_names_the_file(tmp_path):
    data = gzip.compress(_idx_bytes(np.zeros((50, 28, 28), np.uint8) + 7))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{path} is corrupted or truncated"):
        read_idx(path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=f"{path} is corrupted or truncated"):
        read_idx(path)


def test_truncated_raw_file_and_header_name_the_file(tmp_path):
    raw = _idx_bytes(np.zeros((50, 28, 28), np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(raw[:-100])
    with pytest.raises(ValueError, match=f"{path}: header says shape \\(50, 28, 28\\)"):
        read_idx(path)
    path.write_bytes(raw[:9])
    with pytest.raises(ValueError, match=f"{path} is truncated: its header"):
        read_idx(path)


def test_images_and_labels_that_disagree_are_refused(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, n_images, n_labels in (("train", 6000, 5999), ("t10k", 10, 10)):
        images = np.zeros((n_images, 28, 28), np.uint8)
        (raw / f"{stem}-images-idx3-ubyte").write_bytes(_idx_bytes(images))
        (raw / f"{stem}-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(n_labels, np.uint8)))
    pattern = "train-images-idx3-ubyte .*6000.*train-labels-idx1-ubyte .*5999.* do not hold matching"
    with pytest.raises(ValueError, match=pattern):
        build_dataset("mnist", "train", root=tmp_path)
    assert len(build_dataset("mnist", "test", root=tmp_path)) == 10


def test_missing_mnist_without_a_root_says_to_pass_one():
    with pytest.raises(FileNotFoundError, match="<DIR>/MNIST/raw \\(then pass --set data.root=DIR\\)"):
        build_dataset("mnist", "train")
