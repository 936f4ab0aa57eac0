"""experiments/gpu_paper.sh: the dry run checks the 25-cell sweep on the CPU; bad arguments."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
ENV = os.environ | {"PYTHON": sys.executable, "PYTHONPATH": str(REPO)}


def gpu_paper(*args, env=ENV):
    return subprocess.run(["bash", "experiments/gpu_paper.sh", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_dry_run_expands_the_depth2_row_and_packs_the_folder(tmp_path):
    out = tmp_path / "paper"
    result = gpu_paper(out, "--dry-run", "--budget", "600", "--jobs", "4",
                       "--pack", tmp_path / "paper.tgz",
                       env=ENV | {"FMNIST_ROOT": "/data/fmnist"})
    assert result.returncode == 0, result.stderr
    cells = [line.split()[0] for line in result.stdout.splitlines() if "epochs left" in line]
    assert sorted(cells) == sorted(
        f"paper_table1_fmnist/{op}-depth2/seed{s}"
        for op in ("softmax", "softmax_sigma2", "qr", "sinkhorn", "qontot") for s in range(5))
    assert "4 workers, budget 600 s (sweep stopped at 570 s)" in result.stdout
    spec = yaml.safe_load((out / "sweep.yaml").read_text())
    assert spec["grid"] == {"model.depth": [2]} and spec["out_dir"] == str(out)
    assert spec["set"] == {"data.root": "/data/fmnist"}
    assert spec["variants"]["qontot"]["attention.kwargs"]["n_layers"] == 16
    assert spec["variants"]["qontot"]["attention.kwargs"]["n_aux_qubits"] == 4
    parts = sorted(tmp_path.glob("paper.tgz.*"))
    assert [p.name for p in parts] == ["paper.tgz.00"]
    with tarfile.open(parts[0]) as tar:
        assert tar.getnames() == ["paper/sweep.yaml"]


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "--budget must be whole seconds from 60 to 86400, got '0'"),
    (["--budget", "-5"], "--budget must be whole seconds from 60 to 86400, got '-5'"),
    (["--budget", "7m"], "--budget must be whole seconds from 60 to 86400, got '7m'"),
    (["--budget", "nan"], "--budget must be whole seconds from 60 to 86400, got 'nan'"),
    (["--budget", "99999999999999999999"], "--budget must be whole seconds from 60 to 86400"),
    (["--budget", ""], "--budget must be whole seconds from 60 to 86400, got ''"),
    (["--jobs", "0"], "--jobs must be an integer from 1 to 64, got '0'"),
    (["--jobs", "2.5"], "--jobs must be an integer from 1 to 64, got '2.5'"),
    (["--budget"], "--budget needs a value"),
    (["--fast"], "unknown option --fast"),
    (["--pack", "/nonexistent/dir/p.tgz"], "--pack folder /nonexistent/dir is not writable"),
])
def test_bad_arguments_are_one_line_exit_2_and_leave_nothing(args, message, tmp_path):
    out = tmp_path / "paper"
    result = gpu_paper(out, "--dry-run", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without a GPU")
def test_without_a_gpu_the_real_run_refuses(tmp_path):
    result = gpu_paper(tmp_path / "paper")
    assert result.returncode == 2
    assert result.stderr.strip() == "gpu_paper.sh: no CUDA device here (use --dry-run on a CPU)"
    assert not (tmp_path / "paper").exists()
