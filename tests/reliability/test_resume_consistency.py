"""Issue 16, one run per folder on resume: config.yaml, checkpoint.pt and metrics.csv must belong
to one run. The fit loop writes the checkpoint first and metrics.csv second, so a kill leaves
metrics.csv at most one epoch behind (accepted, and rewritten); anything else is an error naming
the files that disagree. Stale temporary files of killed writes go on the next start."""

import csv

import pytest
import torch
import yaml

import qdsformer.train.engine as engine
from qdsformer.cli import main
from qdsformer.models import load_checkpoint
from qdsformer.train.config import load_config
from qdsformer.train.engine import fit

TINY = ["optim.epochs=2", "data.train_limit=32", "data.val_limit=32", "data.test_limit=32",
        "attention.name=softmax", "run.progress=false"]


def _cut_run(run_dir):
    """A 2-epoch run stopped after its first epoch (resumable)."""
    fit(load_config(None, TINY), run_dir=run_dir, stop_after_epochs=1)
    return run_dir


def _rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert str(needle) in err, (needle, err)
    return err


def test_kill_between_checkpoint_and_metrics_resumes_exactly(tmp_path, monkeypatch):
    full = fit(load_config(None, TINY), run_dir=tmp_path / "full")

    def killed(*args, **kwargs):  # the process dies after checkpoint.pt, before metrics.csv
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "write_csv", killed)
    with pytest.raises(KeyboardInterrupt):
        fit(load_config(None, TINY), run_dir=tmp_path / "cut")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "cut")["epoch"] == 1
    assert not (tmp_path / "cut" / "metrics.csv").exists()  # one epoch behind the checkpoint
    cut = fit(load_config(None, TINY), run_dir=tmp_path / "cut", resume=True)
    assert cut["test_acc"] == full["test_acc"] and cut["test_loss"] == full["test_loss"]
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    rows = _rows(tmp_path / "cut" / "metrics.csv")
    assert [r["val_acc"] for r in rows] == [r["val_acc"] for r in _rows(tmp_path / "full" /
                                                                         "metrics.csv")]


def test_config_yaml_of_another_run_is_refused(tmp_path, capsys):
    run = _cut_run(tmp_path / "r")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["optim"]["lr"] = 0.5
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    assert main(["train", "--resume", str(run)]) == 2
    _one_line_error(capsys, run, "config.yaml and checkpoint.pt belong to different runs",
                    "optim.lr: 0.5 vs 0.003")


def test_metrics_ahead_of_the_checkpoint_are_refused(tmp_path, capsys):
    run = _cut_run(tmp_path / "r")
    rows = _rows(run / "metrics.csv")
    with (run / "metrics.csv").open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(rows[0])).writerow({**rows[0], "epoch": 2})
    assert main(["train", "--resume", str(run)]) == 2
    _one_line_error(capsys, run, "metrics.csv has 2 epoch rows but checkpoint.pt is at epoch 1")


def test_metrics_of_another_run_are_refused(tmp_path, capsys):
    run = _cut_run(tmp_path / "r")
    rows = _rows(run / "metrics.csv")
    rows[0]["val_acc"] = str(float(rows[0]["val_acc"]) + 0.125)
    with (run / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["train", "--resume", str(run)]) == 2
    _one_line_error(capsys, run, "metrics.csv and checkpoint.pt belong to different runs",
                    "val_acc")


def test_resume_with_another_config_is_refused(tmp_path):
    run = _cut_run(tmp_path / "r")
    other = load_config(None, TINY + ["run.seed=1"])
    with pytest.raises(ValueError, match="the config given to resume and checkpoint.pt .*run.seed"):
        fit(other, run_dir=run, resume=True)


def test_stale_temporaries_are_removed_on_resume(tmp_path):
    run = _cut_run(tmp_path / "r")
    stale = [run / ".checkpoint.pt.k2x_9abc.tmp", run / ".metrics.csv.a1b2c3d4.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    kept = [run / "notes.tmp", run / ".checkpoint.pt.tmp", run / "mine.a1b2c3d4.tmp"]
    for path in kept:
        path.write_text("not ours")
    fit(load_config(None, TINY), run_dir=run, resume=True)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
