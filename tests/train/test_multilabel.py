"""The multi-label path (BCE, micro-F1) and the MNIST-1D task from the CLI."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from qdsformer.cli import main
from qdsformer.data import build_dataset, mnist1d_set
from qdsformer.train.multilabel import f1_from_counts

ROOT = Path(__file__).resolve().parents[2]


def test_micro_and_per_label_f1_match_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth = rng.random((200, 6)) < 0.3
    pred = rng.random((200, 6)) < 0.4
    truth[:, 5] = pred[:, 5] = False  # a label neither present nor predicted: F1 0 (sklearn)
    tp, fp, fn = (torch.tensor(x.sum(0), dtype=torch.float32)
                  for x in (pred & truth, pred & ~truth, ~pred & truth))
    micro, per_label = f1_from_counts(tp, fp, fn)
    assert micro == pytest.approx(f1_score(truth, pred, average="micro"), abs=1e-6)
    assert per_label == pytest.approx(
        list(f1_score(truth, pred, average=None, zero_division=0)), abs=1e-6)


def test_mnist1d_is_generated_locally_and_leaves_the_global_rngs_alone(monkeypatch):
    data_module = pytest.importorskip("mnist1d.data")

    def no_network(*args, **kwargs):
        raise AssertionError("mnist1d tried to download")

    monkeypatch.setattr(data_module, "get_dataset", no_network)
    monkeypatch.setattr(data_module.requests, "get", no_network)
    mnist1d_set._generate.cache_clear()
    np.random.seed(7)
    random.seed(7)
    before = (np.random.random(), random.random())
    np.random.seed(7)
    random.seed(7)
    parts = {s: build_dataset("mnist1d", s) for s in ("train", "val", "test")}
    assert (np.random.random(), random.random()) == before
    assert {s: len(d) for s, d in parts.items()} == {"train": 3600, "val": 400, "test": 1000}
    assert parts["train"].images.shape[1:] == (1, 1, 40) and not parts["train"].multilabel
    assert set(parts["test"].labels.tolist()) == set(range(10))
    train = parts["train"].images.reshape(3600, 40)
    val = parts["val"].images.reshape(400, 40)
    assert not (torch.cdist(val, train).min(dim=1).values == 0).any()  # disjoint splits


@pytest.mark.parametrize("attention", ["softmax", "qontot"])
def test_mnist1d_preset_trains_from_the_cli(tmp_path, attention):
    pytest.importorskip("mnist1d")
    run_dir = tmp_path / "run"
    kwargs = "{n_layers: 1, n_aux_qubits: 1}" if attention == "qontot" else "{}"
    assert main(["train", "--config", str(ROOT / "experiments/configs/mnist1d_softmax.yaml"),
                 "--set", f"attention.name={attention}", "--set", f"attention.kwargs={kwargs}",
                 "--set", "optim.epochs=1", "--set", "data.train_limit=200",
                 "--set", "run.progress=false", "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dataset"] == "mnist1d" and summary["n_test"] == 1000
    assert "test_micro_f1" not in summary and 0.0 <= summary["test_acc"] <= 1.0


@pytest.mark.parametrize("override, message", [
    ("data.fold=5", "data.fold must be an integer in 0..4, got 5"),
    ("data.fold=-1", "data.fold must be an integer in 0..4, got -1"),
    ("data.n_folds=1", "data.n_folds must be an integer >= 2, got 1"),
    ("data.n_folds=0", "data.n_folds must be an integer >= 2, got 0"),  # and nothing on the fold
    ("data.fold=2", "data.fold 2 applies only to cross-validated data sets (ir), not 'digits'"),
])
def test_bad_fold_settings_exit_2_naming_the_key(tmp_path, capsys, override, message):
    run_dir = tmp_path / "run"
    assert main(["train", "--set", override, "--run-dir", str(run_dir)]) == 2
    assert capsys.readouterr().err.strip() == f"qdsformer train: error: invalid config: {message}"
    assert not run_dir.exists()
