"""One-epoch training runs from the command line on synthetic files in each official format."""

import json

import numpy as np
import yaml

from qdsformer.cli import main
from qdsformer.models import load_checkpoint

QUICK = ["--set", "optim.epochs=1", "--set", "run.progress=false", "--set", "run.device=cpu",
         "--set", "attention.name=softmax", "--set", "model.depth=1", "--set", "data.batch_size=50"]


def _train(root, run_dir, *overrides):
    args = ["train", *QUICK, "--set", f"data.root={root}", *overrides, "--run-dir", str(run_dir)]
    assert main(args) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] and summary["epochs"] == 1
    return summary


def test_one_epoch_on_medmnist_npz(tmp_path, write_medmnist, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "medmnist", None)  # the built-in class counts
    write_medmnist(tmp_path / "data", "octmnist", 4)
    summary = _train(tmp_path / "data", tmp_path / "run", "--set", "data.name=octmnist",
                     "--set", "model.preset=qdsformer_fmnist")
    assert summary["dataset"] == "octmnist" and summary["n_train"] == 60 and summary["n_test"] == 30
    assert "eureka_epoch" not in summary
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["model"]["num_classes"] == 4  # resolved from the data set and saved
    assert load_checkpoint(tmp_path / "run")["model"]["head.weight"].shape == (4, 128)


def test_one_epoch_on_mnist_idx(eureka_root, tmp_path):
    summary = _train(eureka_root, tmp_path / "run", "--set", "data.name=mnist",
                     "--set", "model.preset=qdsformer_fmnist", "--set", "data.val_limit=200")
    assert summary["dataset"] == "mnist" and summary["n_train"] == 200 and summary["n_test"] == 120


def test_one_epoch_on_eureka_from_idx(eureka_root, tmp_path):
    summary = _train(eureka_root, tmp_path / "run", "--set", "data.name=eureka",
                     "--set", "model.preset=eureka_vit", "--set", "data.val_limit=200",
                     "--set", "optim.name=adamw", "--set", "optim.warmup_epochs=0")
    assert summary["dataset"] == "eureka" and summary["n_train"] == 200
    assert "eureka_epoch" in summary and summary["eureka_epoch"] in (None, 1)
    assert (summary["eureka_epoch"] == 1) == (summary["val_acc"] >= 0.7)
    state = load_checkpoint(tmp_path / "run")
    assert state["model"]["patch_embed.proj.weight"].shape == (256, 3, 14, 28)
    assert "cls_token" not in state["model"]
    assert (eureka_root / "eureka" / "eureka_train_seed0_v1.npz").exists()


def test_list_shows_the_new_datasets_and_preset(capsys):
    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("octmnist", "pneumoniamnist", "tissuemnist", "organamnist", "organcmnist",
                 "organsmnist", "breastmnist", "eureka"):
        assert f"  {name}\n" in out
    assert main(["list", "presets"]) == 0
    assert "eureka_vit" in capsys.readouterr().out


def test_eureka_config_files_load_and_match_the_paper(tmp_path):
    from pathlib import Path

    from qdsformer.train.config import load_config

    root = Path(__file__).resolve().parents[2] / "experiments" / "configs"
    config = load_config(root / "eureka_softmax.yaml")
    o = config.optim
    assert (o.name, o.weight_decay, o.schedule, o.epochs) == ("adamw", 0.05, "cosine", 100)
    assert (o.warmup_epochs, o.warmup_lr, o.min_lr, config.data.batch_size) == (5, 1e-6, 1e-5, 512)
    assert config.model.preset == "eureka_vit" and config.data.name == "eureka"
    qontot = load_config(root / "eureka_qontot.yaml")
    assert qontot.attention.name == "qontot" and qontot.attention.kwargs["n_layers"] == 1
    med = load_config(root / "medmnist_softmax.yaml")
    assert med.model.depth == 2 and med.optim.milestones == [31, 45] and med.data.batch_size == 100
    assert np.isclose(med.optim.lr, 5e-4)
