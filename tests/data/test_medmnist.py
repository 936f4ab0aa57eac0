"""MedMNIST: official npz format, official splits, clear errors, download through the package."""

import sys
import types

import numpy as np
import pytest
import torch

from qdsformer.data import build_dataset, list_datasets, medmnist_sets
from qdsformer.data.datasets import dataset_num_classes
from qdsformer.data.medmnist_sets import (
    MEDMNIST_CLASSES,
    medmnist_class_names,
    medmnist_num_classes,
    read_medmnist_npz,
)

TABLE2 = ["octmnist", "pneumoniamnist", "tissuemnist", "organamnist", "organcmnist",
          "organsmnist", "breastmnist"]


@pytest.fixture(autouse=True)
def _no_home_medmnist(monkeypatch, tmp_path_factory):
    """Keep a real ~/.medmnist out of the search and the real package out of the way."""
    monkeypatch.setattr(medmnist_sets, "MEDMNIST_DEFAULT_ROOT",
                        tmp_path_factory.mktemp("home") / ".medmnist")
    monkeypatch.setitem(sys.modules, "medmnist", None)  # "not installed" unless a test fakes it


def test_the_seven_table2_sets_are_registered_with_their_class_counts():
    assert set(TABLE2) <= set(list_datasets())
    assert [dataset_num_classes(f) for f in TABLE2] == [4, 2, 8, 11, 11, 11, 2]


def test_official_splits_are_read_as_they_are_and_standardised_on_train(tmp_path, write_medmnist):
    _, arrays = write_medmnist(tmp_path, "organsmnist", 11)
    mean = arrays["train_images"].mean() / 255.0
    std = arrays["train_images"].std() / 255.0
    for split in ("train", "val", "test"):
        data = build_dataset("organsmnist", split, root=tmp_path)
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        assert data.images.shape == (len(images), 1, 28, 28) and data.images.dtype == torch.float32
        assert data.labels.dtype == torch.int64
        assert torch.equal(data.labels, torch.from_numpy(labels[:, 0].astype(np.int64)))  # same order
        expected = torch.from_numpy(((images / 255.0 - mean) / std).astype(np.float32))
        assert torch.allclose(data.images[:, 0], expected, atol=1e-5)
    train = build_dataset("organsmnist", "train", root=tmp_path)
    assert abs(float(train.images.mean())) < 1e-4 and abs(float(train.images.std()) - 1) < 1e-3


def test_files_in_a_medmnist_subfolder_are_found(tmp_path, write_medmnist):
    write_medmnist(tmp_path / "medmnist", "breastmnist", 2)
    assert len(build_dataset("breastmnist", "test", root=tmp_path)) == 30


def test_missing_file_lists_where_it_looked_and_the_download_flag(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        build_dataset("octmnist", "train", root=tmp_path)
    message = str(err.value)
    assert "octmnist.npz not found" in message
    assert str(tmp_path) in message and str(tmp_path / "medmnist") in message
    assert ".medmnist" in message and "data.download=true" in message


def test_corrupted_and_truncated_archives_name_the_file(tmp_path, write_medmnist):
    path, _ = write_medmnist(tmp_path, "pneumoniamnist", 2)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=f"{path}.*(corrupted|truncated)"):
        build_dataset("pneumoniamnist", "train", root=tmp_path)
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(ValueError, match=f"{path}.*(corrupted|truncated)"):
        build_dataset("pneumoniamnist", "val", root=tmp_path)


@pytest.mark.parametrize("override, match", [
    ({"val_labels": None}, "has no val_labels"),
    ({"val_images": np.zeros((20, 28, 28), np.float32)}, "uint8 \\(N, 28, 28\\)"),
    ({"val_images": np.zeros((20, 28, 28, 3), np.uint8)}, "grey 28x28"),
    ({"val_labels": np.zeros((20, 14), np.uint8)}, "single-label"),
    ({"val_labels": np.zeros((19, 1), np.uint8)}, "20 val images but 19 labels"),
    ({"val_labels": np.full((20, 1), 2, np.uint8)}, "expected \\[0, 1\\]"),
])
def test_wrong_contents_are_refused_naming_the_file(tmp_path, write_medmnist, override, match):
    path, _ = write_medmnist(tmp_path, "breastmnist", 2, **override)
    with pytest.raises(ValueError, match=match) as err:
        read_medmnist_npz(path, "val", num_classes=2)
    assert str(path) in str(err.value)


def test_without_the_package_download_says_how_to_install_it(tmp_path):
    with pytest.raises(ValueError, match="pip install 'qdsformer\\[medmnist\\]'"):
        build_dataset("breastmnist", "train", root=tmp_path, download=True)
    assert medmnist_class_names("breastmnist") == ["class 0", "class 1"]
    assert medmnist_num_classes("tissuemnist") == MEDMNIST_CLASSES["tissuemnist"] == 8


def _fake_medmnist(write_medmnist, calls):
    """A stand-in for the medmnist package: INFO plus a dataset class whose download writes
    the official file, as medmnist.dataset.MedMNIST.download does (into ``root``)."""
    from pathlib import Path

    module = types.ModuleType("medmnist")
    module.INFO = {"breastmnist": {"python_class": "BreastMNIST",
                                   "label": {"0": "malignant", "1": "normal, benign"}}}

    class BreastMNIST:
        def __init__(self, split, root, download=False, **kwargs):
            calls.append({"split": split, "root": root, "download": download})
            if download:
                write_medmnist(Path(root), "breastmnist", 2)

    module.BreastMNIST = BreastMNIST
    return module


def test_download_goes_through_the_medmnist_package(tmp_path, monkeypatch, write_medmnist):
    calls = []
    monkeypatch.setitem(sys.modules, "medmnist", _fake_medmnist(write_medmnist, calls))
    root = tmp_path / "data"
    with pytest.raises(FileNotFoundError):  # no download unless asked
        build_dataset("breastmnist", "train", root=root)
    assert calls == []
    data = build_dataset("breastmnist", "val", root=root, download=True)
    assert calls == [{"split": "train", "root": str(root), "download": True}]
    assert (root / "breastmnist.npz").exists() and len(data) == 20
    assert medmnist_class_names("breastmnist") == ["malignant", "normal, benign"]
    assert dataset_num_classes("breastmnist") == 2
