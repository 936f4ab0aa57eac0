"""Issue 16, safe loading: checkpoints load with weights_only=True; crafted, damaged and
legacy files get one clear line; ``--trust-checkpoint`` opts in to a trusted legacy file."""

import os

import numpy as np
import pytest
import torch

from qdsformer.cli import main
from qdsformer.models import CheckpointError, load_checkpoint, trusted_checkpoints
from qdsformer.train.config import load_config, save_config
from qdsformer.train.engine import fit


class _WritesAFile:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _crafted(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil" / "checkpoint.pt"
    path.parent.mkdir()
    torch.save({"model": {}, "config": _WritesAFile(marker)}, path)
    save_config(load_config(None, ["optim.epochs=1", "data.train_limit=32"]),
                path.parent / "config.yaml")  # so `train --resume` reaches the checkpoint
    return path, marker


def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path):
    path, marker = _crafted(tmp_path)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("command", [
    ["evaluate", "{ckpt}", "--runner", "exact"],
    ["analyze", "--inputs", "checkpoint", "--checkpoint", "{ckpt}"],
    ["train", "--resume", "{run}"],
])
def test_crafted_checkpoint_under_the_cli_is_one_line_and_runs_nothing(tmp_path, capsys,
                                                                        command):
    path, marker = _crafted(tmp_path)
    argv = [a.format(ckpt=path, run=path.parent) for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--trust-checkpoint" in err and str(path) in err, err
    assert not marker.exists()


def test_trained_checkpoint_loads_with_weights_only(tmp_path):
    config = load_config(None, ["optim.epochs=1", "data.train_limit=32", "run.progress=false"])
    fit(config, run_dir=tmp_path / "r")
    state = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and isinstance(state["rng"]["numpy"][1], list)


def test_legacy_file_needs_the_explicit_opt_in(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"model": {}, "rng": {"numpy": np.random.get_state()}}, path)  # numpy array
    with pytest.raises(CheckpointError, match="old-format or untrusted"):
        load_checkpoint(path)
    assert load_checkpoint(path, trust=True)["rng"]["numpy"][0] == "MT19937"
    with trusted_checkpoints():
        assert load_checkpoint(path)["model"] == {}
    with pytest.raises(CheckpointError):  # the opt-in ends with its block
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"garbage" * 20, "truncated"])
def test_damaged_checkpoint_is_one_line(tmp_path, capsys, content):
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.ones(1000)}}, good)
    if content == "truncated":
        content = good.read_bytes()[: good.stat().st_size // 2]
    path = tmp_path / "run" / "checkpoint.pt"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="empty|damaged"):
        load_checkpoint(path)
    assert main(["evaluate", str(path), "--runner", "exact"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err, err
