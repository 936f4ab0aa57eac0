"""Issue 16, validate before anything is written: the resolved config is checked whole
(``qdsformer.train.validate.validate_config``) by fit, by the train / distill commands and by
the sweep, so a bad config gets one line listing every problem and leaves no run folder."""

import os
import textwrap

import pytest
import torch

from qdsformer.apps.sweep import expand, load_sweep
from qdsformer.cli import main
from qdsformer.train.config import load_config
from qdsformer.train.distill import distill, load_distill_config
from qdsformer.train.engine import fit
from qdsformer.train.validate import validate_config

BASE = ["optim.epochs=1", "data.train_limit=32", "run.progress=false"]


def _refused(tmp_path, capsys, overrides, *needles, command="train"):
    """The CLI refuses ``overrides`` with one line holding ``needles``; no run folder is left."""
    run_dir = tmp_path / "out" / "run"
    argv = [command, "--no-progress", "--run-dir", str(run_dir)]
    for assignment in BASE + overrides:
        argv += ["--set", assignment]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "invalid config" in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not (tmp_path / "out").exists()
    return err


def test_preset_image_size_must_match_the_dataset(tmp_path, capsys):
    _refused(tmp_path, capsys, ["model.preset=qdsformer_fmnist"],
             "model.preset 'qdsformer_fmnist' takes 28x28 images with 1 channel(s)",
             "dataset 'digits' has 8x8 images")


def test_preset_channels_must_match_the_dataset():
    config = load_config(None, ["model.preset=eureka_vit", "data.name=fashion-mnist"])
    with pytest.raises(ValueError, match="takes 56x56 images with 3 channel"):
        validate_config(config)


def test_num_heads_must_divide_the_width(tmp_path, capsys):
    _refused(tmp_path, capsys, ["model.num_heads=3"],
             "model.num_heads 3 does not divide the embedding width 64")


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1e-3"])
def test_lr_must_be_finite_and_positive(tmp_path, capsys, value):
    _refused(tmp_path, capsys, [f"optim.lr={value}"], "optim.lr must be a finite number > 0")


@pytest.mark.parametrize("assignment, needle", [
    ("optim.weight_decay=-0.1", "optim.weight_decay must be a finite number >= 0"),
    ("optim.weight_decay=.inf", "optim.weight_decay must be a finite number >= 0"),
    ("optim.epochs=0", "optim.epochs must be an integer >= 1"),
    ("data.batch_size=0", "data.batch_size must be an integer >= 1"),
])
def test_other_optimiser_and_data_numbers(tmp_path, capsys, assignment, needle):
    _refused(tmp_path, capsys, [assignment], needle)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_refused_before_the_folder(tmp_path, capsys):
    _refused(tmp_path, capsys, ["run.device=cuda"], "CUDA is not available")


def test_output_folder_below_a_file_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    config = load_config(None, BASE + [f"run.out_dir={blocker / 'results'}"])
    with pytest.raises(ValueError, match=f"{blocker} exists and is not a folder"):
        fit(config)
    assert blocker.read_text() == "x"


def test_unwritable_output_folder_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root may write anywhere: make the access check say what it says
        real_access = os.access  # to anyone else about a 0500 folder
        monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(locked)
                            else real_access(path, mode))
    config = load_config(None, BASE + [f"run.out_dir={locked / 'results'}"])
    with pytest.raises(ValueError, match=f"cannot be created: {locked} is not writable"):
        fit(config)


def test_every_problem_is_listed_at_once(tmp_path):
    config = load_config(None, ["model.num_heads=5", "optim.lr=inf", "data.batch_size=0"])
    with pytest.raises(ValueError) as info:
        fit(config, run_dir=tmp_path / "run")
    for key in ("model.num_heads", "optim.lr", "data.batch_size"):
        assert key in str(info.value)
    assert not (tmp_path / "run").exists()


def test_the_default_config_and_shipped_presets_pass(tmp_path):
    validate_config(load_config(), tmp_path / "run")
    validate_config(load_config(None, ["model.preset=qdsformer_fmnist",
                                       "data.name=fashion-mnist"]), tmp_path / "run")


def test_distill_checks_the_teacher_before_its_folder(tmp_path):
    config = load_distill_config(None, BASE + ["teacher.model.num_heads=3"])
    with pytest.raises(ValueError, match="teacher.model.num_heads 3 does not divide"):
        distill(config, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_sweep_checks_every_cell_before_any_runs(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: heads
        out_dir: {tmp_path / 'out'}
        set: {{optim.epochs: 1, data.train_limit: 32}}
        grid: {{model.num_heads: [1, 3]}}
        """))
    with pytest.raises(ValueError, match="cell num_heads3/seed0: invalid config: model.num_heads"):
        expand(load_sweep(path))
    assert main(["sweep", str(path)]) == 2
    assert "num_heads3" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # not even the good cell ran
