"""MedMNIST beyond grey single-label: the RGB sets (N, 3, 28, 28) and the multi-label chestmnist
(labels (N, 14)), read from npz stand-ins in the official format, trained from the CLI."""

import csv
import json
import sys

import numpy as np
import pytest
import torch

from qdsformer.cli import main
from qdsformer.data import build_dataset, list_datasets, medmnist_sets
from qdsformer.data.datasets import (
    MULTILABEL_LABELS,
    dataset_image_shape,
    dataset_is_multilabel,
    dataset_num_classes,
)
from qdsformer.data.medmnist_sets import CHESTMNIST_LABELS, MEDMNIST_RGB_CLASSES
from qdsformer.models import load_checkpoint

QUICK = ["--set", "optim.epochs=1", "--set", "run.progress=false", "--set", "run.device=cpu",
         "--set", "attention.name=softmax", "--set", "model.depth=1", "--set", "data.batch_size=8",
         "--set", "data.train_limit=16"]


@pytest.fixture(autouse=True)
def _no_home_medmnist(monkeypatch, tmp_path_factory):
    """Keep a real ~/.medmnist and the real medmnist package out of the way."""
    monkeypatch.setattr(medmnist_sets, "MEDMNIST_DEFAULT_ROOT",
                        tmp_path_factory.mktemp("home") / ".medmnist")
    monkeypatch.setitem(sys.modules, "medmnist", None)


def test_rgb_sets_and_chestmnist_are_registered_with_their_shapes_and_labels():
    assert MEDMNIST_RGB_CLASSES == {"pathmnist": 9, "dermamnist": 7, "bloodmnist": 8,
                                    "retinamnist": 5}
    for flag, n_classes in MEDMNIST_RGB_CLASSES.items():
        assert flag in list_datasets() and dataset_num_classes(flag) == n_classes
        assert dataset_image_shape(flag) == (3, 28, 28) and not dataset_is_multilabel(flag)
    assert dataset_image_shape("chestmnist") == (1, 28, 28)
    assert dataset_is_multilabel("chestmnist") and dataset_num_classes("chestmnist") == 14
    assert MULTILABEL_LABELS["chestmnist"] == CHESTMNIST_LABELS
    assert CHESTMNIST_LABELS[0] == "atelectasis" and CHESTMNIST_LABELS[-1] == "hernia"
    assert dataset_image_shape("octmnist") == (1, 28, 28)  # the grey sets are unchanged


def test_rgb_images_become_channels_standardised_per_channel_on_train(tmp_path, write_medmnist):
    _, arrays = write_medmnist(tmp_path, "pathmnist", 9, channels=3)
    # make the channels differ, so per-channel statistics matter
    arrays["train_images"][..., 1] //= 2
    np.savez_compressed(tmp_path / "pathmnist.npz", **arrays)
    train = arrays["train_images"].astype(np.float64) / 255.0  # (N, 28, 28, 3)
    mean, std = train.mean(axis=(0, 1, 2)), train.std(axis=(0, 1, 2))
    for split in ("train", "val", "test"):
        data = build_dataset("pathmnist", split, root=tmp_path)
        raw = arrays[f"{split}_images"].astype(np.float64) / 255.0
        assert data.images.shape == (len(raw), 3, 28, 28) and data.images.dtype == torch.float32
        expected = ((raw - mean) / std).transpose(0, 3, 1, 2)  # (N, 3, 28, 28)
        np.testing.assert_allclose(data.images.numpy(), expected, atol=1e-5)
        assert torch.equal(data.labels, torch.from_numpy(
            arrays[f"{split}_labels"][:, 0].astype(np.int64)))
        assert not data.multilabel
    train_x = build_dataset("pathmnist", "train", root=tmp_path).images
    assert torch.allclose(train_x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(train_x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2)


def test_chestmnist_labels_are_14_indicators(tmp_path, write_medmnist):
    _, arrays = write_medmnist(tmp_path, "chestmnist", 14, multilabel=True)
    data = build_dataset("chestmnist", "val", root=tmp_path)
    assert data.multilabel and data.images.shape == (20, 1, 28, 28)
    assert data.labels.dtype == torch.float32 and data.labels.shape == (20, 14)
    assert torch.equal(data.labels, torch.from_numpy(arrays["val_labels"].astype(np.float32)))


@pytest.mark.parametrize(("flag", "kwargs", "override", "message"), [
    ("pathmnist", {"channels": 3}, {"train_images": np.zeros((60, 28, 28), np.uint8)},
     "train_images must be uint8 (N, 28, 28, 3) (an RGB 28x28 set, 3 channels), got uint8 "
     "(60, 28, 28)"),
    ("bloodmnist", {"channels": 3}, {"train_images": np.zeros((60, 28, 28, 4), np.uint8)},
     "train_images must be uint8 (N, 28, 28, 3) (an RGB 28x28 set, 3 channels), got uint8 "
     "(60, 28, 28, 4)"),
    ("chestmnist", {"multilabel": True}, {"train_labels": np.zeros((60, 1), np.uint8)},
     "train_labels must be integer (N, 14) (multi-label 0/1), got uint8 (60, 1)"),
    ("chestmnist", {"multilabel": True}, {"train_labels": np.full((60, 14), 2, np.uint8)},
     "train_labels must hold only 0 and 1 (multi-label), got values in [2, 2]"),
    ("dermamnist", {"channels": 3}, {"train_labels": np.zeros((60, 7), np.uint8)},
     "train_labels must be integer (N, 1) (single-label), got uint8 (60, 7)"),
])
def test_a_damaged_file_is_one_line_naming_it(tmp_path, capsys, write_medmnist, flag, kwargs,
                                              override, message):
    path, _ = write_medmnist(tmp_path / "data", flag, medmnist_sets.medmnist_num_classes(flag),
                             **kwargs, **override)
    preset = "qdsformer_medmnist_rgb" if kwargs.get("channels") == 3 else "qdsformer_fmnist"
    run_dir = tmp_path / "run"
    assert main(["train", *QUICK, "--set", f"data.name={flag}", "--set",
                 f"data.root={tmp_path / 'data'}", "--set", f"model.preset={preset}",
                 "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"qdsformer train: error: {path}: {message}"
    assert not run_dir.exists()


def test_the_grey_preset_is_refused_for_an_rgb_set(tmp_path, capsys, write_medmnist):
    write_medmnist(tmp_path, "dermamnist", 7, channels=3)
    assert main(["train", *QUICK, "--set", "data.name=dermamnist", "--set",
                 f"data.root={tmp_path}", "--set", "model.preset=qdsformer_fmnist",
                 "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 channel(s)" in err and "3 channel(s)" in err
    assert not (tmp_path / "run").exists()


def _train(tmp_path, flag, preset):
    run_dir = tmp_path / "run"
    assert main(["train", *QUICK, "--set", f"data.name={flag}", "--set",
                 f"data.root={tmp_path / 'data'}", "--set", f"model.preset={preset}",
                 "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] and summary["dataset"] == flag and summary["n_train"] == 16
    return run_dir, summary


def test_one_step_on_an_rgb_set_from_the_cli(tmp_path, write_medmnist):
    write_medmnist(tmp_path / "data", "bloodmnist", 8, channels=3)
    run_dir, summary = _train(tmp_path, "bloodmnist", "qdsformer_medmnist_rgb")
    assert 0.0 <= summary["test_acc"] <= 1.0 and "test_micro_f1" not in summary
    weights = load_checkpoint(run_dir)["model"]
    assert weights["patch_embed.proj.weight"].shape == (128, 3, 4, 28)
    assert weights["head.weight"].shape == (8, 128)


def test_one_step_on_chestmnist_from_the_cli_is_multilabel(tmp_path, write_medmnist):
    write_medmnist(tmp_path / "data", "chestmnist", 14, multilabel=True)
    run_dir, summary = _train(tmp_path, "chestmnist", "qdsformer_fmnist")
    assert 0.0 <= summary["val_micro_f1"] <= 1.0 and 0.0 <= summary["test_micro_f1"] <= 1.0
    rows = list(csv.DictReader((run_dir / "per_group_f1.csv").open()))
    assert [r["label"] for r in rows] == list(CHESTMNIST_LABELS)
