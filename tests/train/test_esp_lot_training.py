"""ESPFormer and LOTFormer train in the Fashion-MNIST configuration from the CLI (1 epoch, subset)."""

import csv
import json
import os
from pathlib import Path

import pytest

from qdsformer.cli import main
from qdsformer.data.datasets import DEBIAN_FASHION_MNIST
from qdsformer.models import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["esp", "lot"])
def test_one_epoch_fashion_mnist_subset_from_the_cli(name, tmp_path, capsys):
    if not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install dataset-fashion-mnist (apt-get) for this test")
        pytest.skip("Debian's dataset-fashion-mnist is not installed here")
    run_dir = tmp_path / name
    args = ["train", "--config", str(ROOT / f"experiments/configs/fmnist_{name}.yaml"),
            "--set", "optim.epochs=1", "--set", "data.train_limit=600",
            "--set", "data.val_limit=200", "--set", "data.test_limit=300",
            "--set", "run.progress=false", "--run-dir", str(run_dir)]
    assert main(args) == 0
    assert "test accuracy" in capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] and summary["dataset"] == "fashion-mnist"
    assert summary["test_acc"] > 0.3  # 10 classes, chance 0.1: measured 0.55 (esp), 0.53 (lot)
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert len(rows) == 1
    state = load_checkpoint(run_dir)
    assert state["config"]["attention"]["name"] == name
    if name == "lot":  # the pivot is a trained parameter and is saved with the model
        assert any(key.endswith("normalizer.pivots") for key in state["model"])
