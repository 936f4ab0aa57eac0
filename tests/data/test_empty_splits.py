"""Every split a run uses holds samples: empty or too small files are refused before a run.

The stand-in files are written in the official formats (``conftest.py``); each refusal is one
line naming the file, the split and the sizes, exit 2 on the CLI, and no run folder is left.
"""

import sys

import numpy as np
import pytest
import torch

from qdsformer.cli import main
from qdsformer.data import BatchLoader, build_dataset
from qdsformer.data.datasets import DATASETS, ArrayDataset
from qdsformer.train.engine import evaluate

QUICK = ["--set", "optim.epochs=1", "--set", "run.progress=false", "--set", "run.device=cpu",
         "--set", "attention.name=softmax", "--set", "model.depth=1",
         "--set", "model.preset=qdsformer_fmnist"]


def _refused(capsys, tmp_path, root, name, *extra, command="train"):
    """Run the CLI on ``root``; return its error line after checking exit 2 and no folder."""
    run_dir = tmp_path / "out" / "run"
    code = main([command, *QUICK, "--set", f"data.root={root}", "--set", f"data.name={name}",
                 *extra, "--run-dir", str(run_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert not (tmp_path / "out").exists()  # neither the run folder nor its parent
    return err[0]


def _empty_medmnist(write_medmnist, folder, split):
    empty = {f"{split}_images": np.zeros((0, 28, 28), np.uint8),
             f"{split}_labels": np.zeros((0, 1), np.uint8)}
    return write_medmnist(folder, "octmnist", 4, **empty)[0]


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_an_empty_medmnist_split_is_refused_before_the_run(tmp_path, capsys, monkeypatch,
                                                           write_medmnist, split):
    monkeypatch.setitem(sys.modules, "medmnist", None)  # the built-in class counts
    path = _empty_medmnist(write_medmnist, tmp_path / "data", split)
    line = _refused(capsys, tmp_path, tmp_path / "data", "octmnist")
    assert line == (f"qdsformer train: error: {path}: the {split} split is empty "
                    f"({split}_images holds 0 images)")


def test_an_empty_medmnist_split_is_refused_by_distill_too(tmp_path, capsys, monkeypatch,
                                                          write_medmnist):
    monkeypatch.setitem(sys.modules, "medmnist", None)
    path = _empty_medmnist(write_medmnist, tmp_path / "data", "test")
    line = _refused(capsys, tmp_path, tmp_path / "data", "octmnist", "--set", "teacher.epochs=1",
                    "--set", "teacher.model.preset=qdsformer_fmnist", command="distill")
    assert line == (f"qdsformer distill: error: {path}: the test split is empty "
                    f"(test_images holds 0 images)")


def test_mnist_with_fewer_training_images_than_the_val_split_is_refused(tmp_path, capsys,
                                                                        write_mnist):
    raw = write_mnist(tmp_path / "data", 300, 50)
    line = _refused(capsys, tmp_path, tmp_path / "data", "mnist")
    assert line == (f"qdsformer train: error: mnist: {raw / 'train-images-idx3-ubyte.gz'} holds "
                    f"300 training images, but the val split takes 5000 of them, leaving 0 for "
                    f"the train split; the file needs more than 5000 images")


def test_mnist_with_an_empty_test_file_is_refused(tmp_path, capsys, write_mnist):
    raw = write_mnist(tmp_path / "data", 5001, 0)
    line = _refused(capsys, tmp_path, tmp_path / "data", "mnist")
    assert line == (f"qdsformer train: error: mnist: {raw / 't10k-images-idx3-ubyte.gz'} holds "
                    f"no images; the test split would be empty")


def test_the_val_split_must_leave_at_least_one_training_image(tmp_path, write_mnist):
    write_mnist(tmp_path, 5000, 10)
    with pytest.raises(ValueError, match=r"holds 5000 training images, but the val split takes "
                                         r"5000 of them, leaving 0 for the train split"):
        build_dataset("mnist", "val", root=tmp_path)  # val needs the same file: refused too
    write_mnist(tmp_path, 5001, 10)
    assert len(build_dataset("mnist", "train", root=tmp_path)) == 1
    assert len(build_dataset("mnist", "val", root=tmp_path)) == 5000


def test_any_registered_builder_that_returns_nothing_is_refused(monkeypatch):
    def empty(split, root=None, download=False):
        return ArrayDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.int64),
                            "hollow", split)

    monkeypatch.setitem(DATASETS._entries, "hollow", empty)
    with pytest.raises(ValueError, match=r"^hollow: the val split is empty \(0 samples\)$"):
        build_dataset("hollow", "val")


def test_evaluate_never_scores_an_empty_split():
    empty = ArrayDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.int64), "d", "test")
    with pytest.raises(ValueError, match=r"^cannot evaluate: the test split has no samples$"):
        evaluate(torch.nn.Linear(64, 10), BatchLoader(empty, 4))


@pytest.mark.parametrize("value, message", [
    ("0", "invalid config: data.{key} must be an integer >= 1, got 0"),
    ("-1", "invalid config: data.{key} must be an integer >= 1, got -1"),
    ("true", "config key data.{key} expects int, got True"),
    ("1.5", "config key data.{key} expects int, got 1.5"),
    ("nan", "config key data.{key} expects int, got nan"),
])
@pytest.mark.parametrize("key", ["train_limit", "val_limit", "test_limit"])
def test_split_limits_are_positive_integers(tmp_path, capsys, key, value, message):
    run_dir = tmp_path / "out" / "run"
    code = main(["train", "--set", f"data.{key}={value}", "--run-dir", str(run_dir)])
    assert code == 2
    assert capsys.readouterr().err.strip() == "qdsformer train: error: " + message.format(key=key)
    assert not (tmp_path / "out").exists()
