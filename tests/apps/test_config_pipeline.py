"""load -> merge -> validate -> only then the disk: every bad input is one line, no folder.

For ``qdsformer train``, ``distill`` and ``evaluate`` (the sweep's own checks are in
test_sweep_checks.py): each class of bad input gets its exact message (exit 2) and leaves
nothing behind.
"""

from pathlib import Path

import pytest

from qdsformer.cli import main

REPO = Path(__file__).resolve().parents[2]
QONTOT = str(REPO / "experiments/configs/fmnist_qontot.yaml")
DISTILL = str(REPO / "experiments/configs/distill_digits.yaml")


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def fails_with(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    """``argv`` exits 2 with exactly ``qdsformer <cmd>: error: <message>``, writing nothing."""
    before = files_under(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"qdsformer {argv[0]}: error: {message}\n"
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("command, config", [("train", QONTOT), ("distill", DISTILL)])
@pytest.mark.parametrize("override, message", [
    ("attention.kwargs.n_layer=2", "invalid config: attention.kwargs: bad arguments for "
     "attention normaliser '{name}': {cls}.__init__() got an unexpected keyword argument "
     "'n_layer'"),
    ("optim.no_such=1", "unknown config key optim.no_such; known in optim: epochs, gamma, "
     "grad_clip, lr, milestones, min_lr, name, schedule, warmup_epochs, warmup_lr, "
     "weight_decay"),
    ("optim.milestones=[5, 2]|optim.schedule=multistep",
     "invalid config: optim.milestones must be a rising list of epochs >= 1, got [5, 2]"),
    ("optim.warmup_epochs=3|optim.schedule=none", "invalid config: optim.warmup_epochs needs "
     "schedule cosine, got 'none'"),
])
def test_bad_config_values_fail_before_a_folder(command, config, override, message, tmp_path,
                                                capsys):
    name, cls = ("qontot", "QontOT") if command == "train" else ("sinkhorn", "SinkhornAttention")
    sets = [arg for item in override.split("|") for arg in ("--set", item)]
    fails_with([command, "--config", config, *sets, "--run-dir", str(tmp_path / "run")],
               message.format(name=name, cls=cls), tmp_path, capsys)


def test_bad_noise_value_inside_attention_kwargs(tmp_path, capsys):
    fails_with(["train", "--config", QONTOT, "--set", "attention.kwargs.shots=-5",
                "--run-dir", str(tmp_path / "run")],
               "invalid config: attention.kwargs: shots must be None or an int >= 0 "
               "(0 = exact P), got -5", tmp_path, capsys)


def test_distill_with_a_missing_teacher_checkpoint_leaves_no_folder(tmp_path, capsys):
    missing = tmp_path / "no_teacher"
    fails_with(["distill", "--config", DISTILL, "--set", f"teacher.checkpoint={missing}",
                "--run-dir", str(tmp_path / "run")],
               f"invalid config: teacher.checkpoint: no checkpoint at {missing}",
               tmp_path, capsys)


def test_distill_with_a_damaged_teacher_checkpoint_leaves_no_folder(tmp_path, capsys):
    damaged = tmp_path / "teacher.pt"
    damaged.write_bytes(b"not a checkpoint")
    fails_with(["distill", "--config", DISTILL, "--set", f"teacher.checkpoint={damaged}",
                "--run-dir", str(tmp_path / "run")],
               f"{damaged} is damaged or not a checkpoint (truncated or not a torch.save "
               "archive)", tmp_path, capsys)


def test_evaluate_checks_its_output_folder_and_checkpoint_before_anything(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    fails_with(["evaluate", str(tmp_path / "nope"), "--runner", "aer",
                "--out", str(blocker / "sub")],
               f"output folder {blocker / 'sub'}: {blocker} exists and is not a folder",
               tmp_path, capsys)
    fails_with(["evaluate", str(tmp_path / "nope"), "--runner", "aer",
                "--out", str(tmp_path / "out")],
               f"no checkpoint at {tmp_path / 'nope'}", tmp_path, capsys)


@pytest.mark.parametrize("overrides", [
    ["attention.name=softmax"],  # kwargs of qontot are not handed to softmax
    ["attention.name=sinkhorn", "attention.kwargs.n_iters=5"],
    ["optim={epochs: 1}"],  # merges: lr and schedule of the file are kept
    ["data.name=mnist"],
    ["model.preset=qdsformer_fmnist", "model.depth=1"],
])
def test_switching_attention_dataset_or_preset_on_a_config_validates(overrides, tmp_path):
    from qdsformer.train.config import load_config
    from qdsformer.train.validate import validate_config

    config = load_config(QONTOT, overrides)
    validate_config(config, tmp_path / "run")
    if overrides == ["optim={epochs: 1}"]:
        assert (config.optim.lr, config.optim.schedule, config.optim.epochs) == (
            5e-4, "multistep", 1)
    assert not (tmp_path / "run").exists()


def test_set_attention_name_on_a_qontot_config_trains(tmp_path, capsys):
    """The issue's example: qontot's kwargs once reached softmax at run start."""
    run_dir = tmp_path / "run"
    assert main(["train", "--config", QONTOT, "--set", "attention.name=softmax",
                 "--set", "optim.epochs=1", "--set", "data.train_limit=64",
                 "--set", "data.val_limit=32", "--set", "data.test_limit=32",
                 "--no-progress", "--run-dir", str(run_dir)]) == 0
    assert "softmax on fashion-mnist: test accuracy" in capsys.readouterr().out
    assert (run_dir / "summary.json").is_file()
