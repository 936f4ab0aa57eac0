"""Eureka as its authors run it: the training compositions redrawn every epoch from (seed,
epoch) (``data.redraw``) and validation on the composed official test set (``data.eureka_val``);
the fixed draw stays the default. On the MNIST / Fashion-MNIST IDX stand-ins (``eureka_root``)."""

import json

import numpy as np
import pytest
import torch

from qdsformer.cli import main
from qdsformer.data import BatchLoader, build_dataset
from qdsformer.data.eureka import draw_eureka, eureka_label
from qdsformer.data.idx import read_idx
from qdsformer.models import load_checkpoint

TINY = ["--set", "data.name=eureka", "--set", "model.preset=eureka_vit", "--set", "model.depth=1",
        "--set", "model.embed_dim=32", "--set", "attention.name=softmax", "--set",
        "run.device=cpu", "--set", "run.progress=false", "--set", "data.batch_size=16",
        "--set", "data.train_limit=32", "--set", "data.val_limit=16", "--set",
        "data.test_limit=16", "--set", "optim.name=adamw", "--set", "optim.warmup_epochs=0"]


def _mnist_labels(root):
    return read_idx(next((root / "MNIST" / "raw").glob("train-labels*"))).astype(np.int64)


def test_the_fixed_draw_is_the_stream_it_always_was():
    """epoch None draws from (seed, split) as before the redraw option existed."""
    labels = np.arange(100) % 10
    recipe = draw_eureka(labels, labels, 5, "train")
    pool = np.flatnonzero(np.isin(labels, (1, 2)))
    rng = np.random.default_rng([5, 0])  # the stream of the fixed train draw
    assert np.array_equal(recipe["sources"][:, 0], pool[rng.integers(0, pool.size, 100)])
    assert np.array_equal(recipe["sources"][:, 3], pool[rng.integers(0, pool.size, 100)])
    assert np.array_equal(recipe["sources"][:, 2], rng.integers(0, 100, 100))
    assert not np.array_equal(draw_eureka(labels, labels, 5, "train", epoch=0)["sources"],
                              recipe["sources"])


def test_default_training_set_is_fixed_and_ignores_the_epoch(eureka_root):
    data = build_dataset("eureka", "train", root=eureka_root)
    again = build_dataset("eureka", "train", root=eureka_root, redraw_seed=None)
    images = data.images.clone()
    loader = BatchLoader(data, 50, shuffle=True)
    loader.set_epoch(3)
    assert torch.equal(data.images, images) and torch.equal(again.images, images)
    assert type(data).__name__ == "ArrayDataset"


def test_redraw_differs_per_epoch_and_repeats_per_seed_and_epoch(eureka_root):
    data = build_dataset("eureka", "train", root=eureka_root, redraw_seed=7).subset(100)
    assert len(data) == 100 and data.images.shape == (100, 3, 56, 56)
    first = (data.images.clone(), data.labels.clone())
    loader = BatchLoader(data, 25, shuffle=True, seed=7)
    loader.set_epoch(1)  # the fit loop's call before each epoch
    assert not torch.equal(data.images, first[0])
    second = (data.images.clone(), data.labels.clone())
    fresh = build_dataset("eureka", "train", root=eureka_root, redraw_seed=7).subset(100)
    assert torch.equal(fresh.images, first[0]) and torch.equal(fresh.labels, first[1])
    fresh.set_epoch(1)
    assert torch.equal(fresh.images, second[0]) and torch.equal(fresh.labels, second[1])
    fresh.set_epoch(0)
    assert torch.equal(fresh.images, first[0])
    other = build_dataset("eureka", "train", root=eureka_root, redraw_seed=8).subset(100)
    assert not torch.equal(other.images, first[0])
    # the labels of a redrawn epoch follow the rule on the drawn digits and items
    mnist = _mnist_labels(eureka_root)
    order = np.random.default_rng(0).permutation(len(mnist))[5000:]  # the train split
    fashion = read_idx(next((eureka_root / "FashionMNIST" / "raw").glob("train-labels*")))
    fashion = fashion.astype(np.int64)[order]
    recipe = draw_eureka(mnist[order], fashion, 7, "train", epoch=1)
    digits, items = recipe["digits"][:100], recipe["items"][:100]
    assert np.array_equal(second[1].numpy(), eureka_label(digits[:, 0], digits[:, 1],
                                                          items[:, 0], items[:, 1]))
    assert 0 < (digits[:, 0] == digits[:, 1]).mean() < 1


def test_validating_on_the_composed_test_set(eureka_root):
    val = build_dataset("eureka", "val", root=eureka_root, val_source="test")
    test = build_dataset("eureka", "test", root=eureka_root)
    assert val.split == "val" and len(val) == 120
    assert torch.equal(val.images, test.images) and torch.equal(val.labels, test.labels)
    assert len(build_dataset("eureka", "val", root=eureka_root)) == 5000  # the default holdout


@pytest.mark.parametrize(("override", "message"), [
    ("data.redraw=maybe", "config key data.redraw expects bool, got 'maybe'"),
    ("data.redraw=1", "config key data.redraw expects bool, got 1"),
    ("data.redraw=null", "config key data.redraw may not be null"),
    ("data.eureka_val=train", "invalid config: data.eureka_val must be one of holdout, test, "
                              "got 'train'"),
    ("data.eureka_val=''", "invalid config: data.eureka_val must be one of holdout, test, got ''"),
    ("data.eureka_val=null", "config key data.eureka_val may not be null"),
    ("data.eureka_val=5", "config key data.eureka_val expects str, got 5"),
])
def test_bad_values_are_one_line_and_leave_nothing(tmp_path, capsys, eureka_root, override,
                                                   message):
    run_dir = tmp_path / "run"
    assert main(["train", *TINY, "--set", f"data.root={eureka_root}", "--set", override,
                 "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"qdsformer train: error: {message}"
    assert not run_dir.exists()


@pytest.mark.parametrize(("override", "message"), [
    ("data.redraw=true", "data.redraw applies only to the eureka data set, not 'digits'"),
    ("data.eureka_val=test", "data.eureka_val test applies only to the eureka data set, not "
                             "'digits'"),
])
def test_the_modes_are_refused_for_other_data_sets(tmp_path, capsys, override, message):
    assert main(["train", "--set", "optim.epochs=1", "--set", override,
                 "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_redrawn_run_resumed_equals_an_uninterrupted_one(tmp_path, eureka_root):
    args = [*TINY, "--set", f"data.root={eureka_root}", "--set", "optim.epochs=2",
            "--set", "data.redraw=true", "--set", "data.eureka_val=test"]
    assert main(["train", *args, "--run-dir", str(tmp_path / "full")]) == 0
    assert main(["train", *args, "--run-dir", str(tmp_path / "cut"),
                 "--stop-after-epochs", "1"]) == 0
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    full, cut = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    for key, value in full["model"].items():
        assert torch.equal(value, cut["model"][key]), key
    assert [r["train_loss"] for r in full["history"]] == [r["train_loss"] for r in cut["history"]]
    # and the redraw changed what was trained on: the fixed draw ends elsewhere
    fixed = [*TINY, "--set", f"data.root={eureka_root}", "--set", "optim.epochs=2",
             "--set", "data.eureka_val=test"]
    assert main(["train", *fixed, "--run-dir", str(tmp_path / "fixed")]) == 0
    other = load_checkpoint(tmp_path / "fixed")["model"]
    assert not torch.equal(other["head.weight"], full["model"]["head.weight"])
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["finished"] and summary["n_train"] == 32
