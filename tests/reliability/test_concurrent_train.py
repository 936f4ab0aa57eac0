"""Issue 16, one owner per run folder: two ``qdsformer train`` processes on one folder.

No sleeps or races: the test process takes the folder's lock first (as a running
``qdsformer train`` does), so the first CLI process must meet an owner and exit 2 with one
stderr line naming the folder and the owner's pid; once the owner releases the folder, a
second CLI process on the same folder trains to the end.
"""

import os
import subprocess
import sys
from pathlib import Path

from qdsformer.train.lock import RunFolderLock

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--set", "optim.epochs=1", "--set", "data.train_limit=32", "--set",
        "data.val_limit=32", "--set", "data.test_limit=32", "--set", "attention.name=softmax",
        "--no-progress"]


def _train(run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qdsformer", "train", *ARGS, "--run-dir", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})


def test_second_process_on_a_held_folder_exits_2_naming_folder_and_owner(tmp_path):
    run_dir = tmp_path / "run"
    with RunFolderLock(run_dir):  # the first owner: this process
        busy = _train(run_dir)
    assert busy.returncode == 2, busy.stderr
    err = busy.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert str(run_dir) in err and f"pid {os.getpid()}" in err, err
    assert not (run_dir / "config.yaml").exists()  # the refused process wrote nothing

    done = _train(run_dir)  # the owner is gone: the folder is free again
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run_dir / "summary.json").exists() and f"results: {run_dir}" in done.stdout
