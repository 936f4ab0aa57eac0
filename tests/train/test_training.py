"""The training command end to end: outputs, resume equals an uninterrupted run, configs."""

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from qdsformer.cli import main
from qdsformer.models import load_checkpoint
from qdsformer.train.config import load_config
from qdsformer.train.engine import fit

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--set", "optim.epochs=3", "--set", "data.train_limit=400", "--set", "run.progress=false"]


def test_default_train_command_end_to_end(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", *QUICK, "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and str(run_dir) in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] and summary["dataset"] == "digits" and summary["epochs"] == 3
    assert summary["test_acc"] > 0.3  # 10 classes: far above chance after 3 short epochs
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["optim"]["epochs"] == 3 and saved["attention"]["name"] == "qontot"
    assert load_checkpoint(run_dir)["epoch"] == 3


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    args = QUICK + ["--set", "attention.name=qr"]  # qr draws random noise: RNG state matters
    assert main(["train", *args, "--run-dir", str(tmp_path / "full")]) == 0
    assert main(["train", *args, "--run-dir", str(tmp_path / "cut"),
                 "--stop-after-epochs", "1"]) == 0
    assert load_checkpoint(tmp_path / "cut")["epoch"] == 1
    assert not (tmp_path / "cut" / "summary.json").exists()
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    full, cut = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    for key, value in full["model"].items():
        assert torch.equal(value, cut["model"][key]), key
    assert full["history"] == [
        {**r, "epoch_seconds": f["epoch_seconds"]} for r, f in zip(cut["history"], full["history"])
    ]
    a = json.loads((tmp_path / "full" / "summary.json").read_text())
    b = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert a["test_acc"] == b["test_acc"] and a["test_loss"] == b["test_loss"]


def test_refuses_to_overwrite_or_resume_nothing(tmp_path):
    config = load_config(None, ["optim.epochs=1", "data.train_limit=64", "run.progress=false"])
    fit(config, run_dir=tmp_path / "r")
    with pytest.raises(ValueError, match="already holds a run"):
        fit(config, run_dir=tmp_path / "r")
    with pytest.raises(ValueError, match="cannot resume"):
        fit(config, run_dir=tmp_path / "empty", resume=True)


def test_custom_loss_hook_is_used(tmp_path):
    calls = []

    def loss_fn(model, images, labels):
        calls.append(images.shape[0])
        logits = model(images)
        return torch.nn.functional.cross_entropy(logits, labels), logits

    config = load_config(None, ["optim.epochs=1", "data.train_limit=64", "run.progress=false"])
    fit(config, loss_fn=loss_fn, run_dir=tmp_path / "r")
    assert sum(calls) == 64


def test_config_errors_name_the_key(tmp_path, capsys):
    assert main(["train", "--set", "optim.lrr=1"]) == 2
    assert "optim.lrr" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {preset: qdsformer_digits, width: 3}\n")
    with pytest.raises(ValueError, match="model.width"):
        load_config(bad)
    with pytest.raises(ValueError, match="optim.schedule"):
        fit(load_config(None, ["optim.schedule=linear", "run.progress=false"]),
            run_dir=tmp_path / "x")


def test_default_config_is_the_shipped_digits_yaml():
    assert load_config() == load_config(ROOT / "experiments/configs/digits.yaml")


def test_changing_the_backend_drops_the_default_backends_kwargs(tmp_path):
    assert load_config(None, ["attention.name=sinkhorn"]).attention.kwargs == {}
    kept = load_config(None, ["attention.name=sinkhorn", "attention.kwargs.n_iters=5"])
    assert kept.attention.kwargs == {"n_iters": 5}
    assert load_config(None, ["attention.kwargs.n_layers=3"]).attention.kwargs == {
        "n_layers": 3, "n_aux_qubits": 1}
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("attention: {name: qr}\n")
    assert load_config(yaml_file).attention.kwargs == {}


@pytest.mark.parametrize("path", ["experiments/configs/digits.yaml",
                                  "experiments/configs/fmnist_softmax.yaml"])
def test_shipped_configs_load(path):
    config = load_config(ROOT / path)
    assert config.experiment


def test_list_command(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("softmax", "sinkhorn", "qr", "qontot", "qdsformer_fmnist", "fashion-mnist",
                 "parted", "jeffreys"):
        assert name in out
