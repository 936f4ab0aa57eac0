"""Issue 16, one line per failure: every expected failure of the CLI is one line on stderr and
exit code 2; ``--debug`` shows the traceback; the parser imports no torch; a log file gets one
line per epoch instead of progress-bar frames."""

import gzip
import shutil
import subprocess
import sys
import types
import urllib.error
from pathlib import Path

import pytest
import torch

from qdsformer.cli import main

ROOT = Path(__file__).resolve().parents[2]
FMNIST = Path("/usr/share/datasets/fashion-mnist")
TINY = ["--set", "optim.epochs=1", "--set", "data.train_limit=32", "--no-progress"]
FMNIST_PRESET = ["--set", "model.preset=qdsformer_fmnist"]  # 28x28 grey sets


def _one_line(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert str(needle) in err, (needle, err)
    return err


def test_malformed_yaml_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lr: 0.1\n  epochs: [1, 2\n")
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "r")]) == 2
    err = _one_line(capsys, path, "line ")
    assert "invalid YAML" in err
    assert not (tmp_path / "r").exists()


def test_config_naming_a_folder(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path), "--run-dir", str(tmp_path / "r")]) == 2
    _one_line(capsys, tmp_path, "not a file")


def test_malformed_set_value(tmp_path, capsys):
    assert main(["train", "--set", "optim.lr=[1,", "--run-dir", str(tmp_path / "r")]) == 2
    _one_line(capsys, "[1,")


@pytest.mark.skipif(not FMNIST.exists(), reason="needs the Debian Fashion-MNIST files")
@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_damaged_gz_data_file_is_named(tmp_path, capsys, damage):
    root = tmp_path / "data"
    shutil.copytree(FMNIST, root)
    victim = root / "train-images-idx3-ubyte.gz"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not gzip" * 100)
    if damage == "truncated":
        with pytest.raises(EOFError):
            gzip.decompress(victim.read_bytes())
    assert main(["train", *TINY, *FMNIST_PRESET, "--set", "data.name=fashion-mnist", "--set",
                 f"data.root={root}", "--run-dir", str(tmp_path / "r")]) == 2
    _one_line(capsys, victim)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device(tmp_path, capsys):
    assert main(["train", *TINY, "--set", "run.device=cuda", "--run-dir",
                 str(tmp_path / "r")]) == 2
    _one_line(capsys, "cuda", "not available")
    assert not (tmp_path / "r").exists()


def test_offline_download(tmp_path, capsys, monkeypatch):
    class _Offline:
        def __init__(self, **kwargs):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    fake = types.SimpleNamespace(INFO={"breastmnist": {"python_class": "BreastMNIST",
                                                  "label": {"0": "malignant", "1": "benign"}}},
                                 BreastMNIST=_Offline, __version__="fake")
    monkeypatch.setitem(sys.modules, "medmnist", fake)
    assert main(["train", *TINY, *FMNIST_PRESET, "--set", "data.name=breastmnist", "--set",
                 f"data.root={tmp_path / 'data'}", "--set", "data.download=true",
                 "--run-dir", str(tmp_path / "r")]) == 2
    _one_line(capsys, "breastmnist", "offline")


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        main(["--debug", "train", "--config", str(tmp_path)])


def test_building_the_parser_imports_no_torch():
    code = ("import sys; from qdsformer.apps.cli import build_parser; "
            "build_parser(['--help']); build_parser([]); "
            "heavy = [m for m in ('torch', 'timm', 'qdsformer.train') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_log_file_gets_one_line_per_epoch(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "qdsformer", "train", "--set", "optim.epochs=2", "--set",
         "data.train_limit=64", "--run-dir", str(tmp_path / "r")],  # progress left on
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                       "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, check=True)
    assert "\r" not in proc.stderr, proc.stderr[-500:]  # no tqdm frames
    assert proc.stderr.count("epoch 1/2 ") == 1 and proc.stderr.count("epoch 2/2 ") == 1
