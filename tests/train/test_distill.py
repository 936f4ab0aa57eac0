"""``qdsformer distill``: teacher phase, student phase, resume, loaded teachers, bad config."""

import csv
import json

import pytest
import torch

from qdsformer.cli import main
from qdsformer.kd import DistillationLoss
from qdsformer.models.checkpoint import load_checkpoint, save_checkpoint
from qdsformer.train.distill import load_distill_config, make_loss_fn

TINY = ["--set", "data.train_limit=96", "--set", "data.val_limit=64",
        "--set", "data.test_limit=64", "--set", "optim.epochs=2", "--set", "teacher.epochs=2",
        "--set", "attention.name=sinkhorn", "--set", "distill.sinkd_weight=0.8",
        "--set", "distill.debiased=true", "--no-progress"]


def _val_accs(run_dir):
    with open(run_dir / "metrics.csv") as handle:
        return [float(row["val_acc"]) for row in csv.DictReader(handle)]


def test_distill_trains_teacher_then_student_and_resumes_identically(tmp_path, capsys):
    full = tmp_path / "full"
    assert main(["distill", "--run-dir", str(full), *TINY]) == 0
    out = capsys.readouterr().out
    assert "teacher (softmax): test accuracy" in out and f"results: {full}" in out
    summary = json.loads((full / "summary.json").read_text())
    assert summary["attention"] == "sinkhorn" and summary["teacher_attention"] == "softmax"
    assert summary["distill"]["sinkd_weight"] == 0.8 and summary["teacher_epochs"] == 2
    assert (full / "teacher" / "summary.json").exists() and (full / "config.yaml").exists()
    assert load_distill_config(full / "config.yaml").distill.debiased is True

    # The same run cut after every epoch: teacher 1, teacher 2, student 1, student 2.
    cut = tmp_path / "cut"
    assert main(["distill", "--run-dir", str(cut), "--stop-after-epochs", "1", *TINY]) == 0
    assert "stopped in the teacher phase" in capsys.readouterr().out
    for _ in range(3):
        assert main(["distill", "--resume", str(cut), "--stop-after-epochs", "1"]) == 0
    assert main(["distill", "--resume", str(cut)]) == 0
    resumed = json.loads((cut / "summary.json").read_text())
    assert _val_accs(cut) == _val_accs(full)
    assert _val_accs(cut / "teacher") == _val_accs(full / "teacher")
    assert resumed["test_acc"] == summary["test_acc"]

    # A trained teacher can be reused; a new run in an occupied folder is refused.
    reuse = tmp_path / "reuse"
    assert main(["distill", "--run-dir", str(reuse), *TINY,
                 "--set", f"teacher.checkpoint={full / 'teacher'}"]) == 0
    reused = json.loads((reuse / "summary.json").read_text())
    assert reused["teacher_source"] == str(full / "teacher") and not (reuse / "teacher").exists()
    assert reused["teacher_test_acc"] == summary["teacher_test_acc"]
    assert main(["distill", "--run-dir", str(full), *TINY]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_teacher_trained_on_other_data_is_refused(tmp_path, capsys):
    teacher_dir = tmp_path / "teacher"
    assert main(["train", "--run-dir", str(teacher_dir), "--set", "optim.epochs=1",
                 "--set", "data.train_limit=32", "--set", "data.val_limit=32",
                 "--set", "data.test_limit=32", "--no-progress"]) == 0
    state = load_checkpoint(teacher_dir)
    state["config"]["data"]["name"] = "mnist"
    save_checkpoint(state, teacher_dir / "checkpoint.pt")
    code = main(["distill", "--run-dir", str(tmp_path / "s"), *TINY,
                 "--set", f"teacher.checkpoint={teacher_dir}"])
    assert code == 2
    assert "trained on 'mnist' but the student's data.name is 'digits'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # the folder made for the run is gone again


@pytest.mark.parametrize("override, message", [
    ("distill.divergence=kld", "unknown divergence 'kld'"),
    ("distill.divergence_kwargs={alpha: 2.0}", "unknown parameter"),
    ("distill.ce_weight=-1", "loss weight ce_weight must be >= 0"),
    ("distill.temperatur=2", "unknown config key distill.temperatur; known in distill: "),
    ("teacher.checkpoint=/nonexistent/run", "teacher.checkpoint: no checkpoint"),
])
def test_bad_config_is_a_clean_error(tmp_path, capsys, override, message):
    code = main(["distill", "--run-dir", str(tmp_path / "out" / "r"), *TINY, "--set", override])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing left, not even the parent folder


def test_loss_fn_is_the_distillation_loss_against_the_frozen_teacher():
    teacher = torch.nn.Linear(6, 3).requires_grad_(False)
    student = torch.nn.Linear(6, 3)
    criterion = DistillationLoss(ce_weight=0.2, kd_weight=0.5, sinkd_weight=0.3)
    images, labels = torch.randn(5, 6), torch.tensor([0, 1, 2, 0, 1])
    loss, logits = make_loss_fn(teacher, criterion)(student, images, labels)
    expected, _ = criterion(student(images), teacher(images), labels)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(logits, student(images))
    loss.backward()
    assert student.weight.grad is not None and teacher.weight.grad is None
