"""experiments/gpu_check.sh runs end to end on the CPU with --dry-run and writes its JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_writes_every_json(tmp_path):
    env = os.environ | {"PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    result = subprocess.run(["bash", "experiments/gpu_check.sh", str(tmp_path), "--dry-run"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=800)
    summary = json.loads((tmp_path / "gpu_check.json").read_text())
    assert summary["dry_run"] is True and summary["device"] == "cpu"
    assert [s["step"] for s in summary["steps"]] == ["tests", "bench_simulator", "estimate",
                                                      "train_epoch"]
    assert all(s["rc"] == 0 for s in summary["steps"]), result.stdout
    assert result.returncode == 0
    assert json.loads((tmp_path / "simulator.json").read_text())[0]["impl"] == "complex64_matmul"
    assert json.loads((tmp_path / "estimate.json").read_text())["epochs"] == 1
    assert json.loads((tmp_path / "train_summary.json").read_text())["finished"] is True


def test_gpu_check_rejects_an_unknown_option(tmp_path):
    result = subprocess.run(["bash", "experiments/gpu_check.sh", str(tmp_path), "--fast"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "unknown option" in result.stderr
