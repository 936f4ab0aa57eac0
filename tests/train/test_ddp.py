"""Data-parallel training under torchrun (gloo on CPU) matches one process with the same batch."""

import csv
import subprocess
import sys

import torch

from qdsformer.cli import main
from qdsformer.models import load_checkpoint
from qdsformer.train.ddp import DistributedContext

# SGD, not Adam: softmax is blind to the key bias (a constant shift of each score row), so its
# gradient is rounding noise that Adam normalises into full-size steps whose sign differs between
# any two summation orders; SGD keeps such noise at its size, and every weight must agree.
ARGS = ["--set", "optim.name=sgd", "--set", "optim.lr=0.05", "--set", "attention.name=softmax",
        "--set", "optim.epochs=2", "--set", "data.train_limit=256", "--set", "data.val_limit=96",
        "--set", "data.test_limit=96", "--set", "data.batch_size=32", "--no-progress"]


def torchrun(*argv: str) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "qdsformer", "train", *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": ":".join(sys.path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def metrics(run_dir) -> list[dict]:
    with (run_dir / "metrics.csv").open() as handle:
        return [{k: float(v) for k, v in row.items() if k != "epoch_seconds"}
                for row in csv.DictReader(handle)]


def test_two_gloo_processes_match_one_process_and_resume(tmp_path):
    assert main(["train", *ARGS, "--run-dir", str(tmp_path / "one")]) == 0
    # two processes, killed (stopped) after epoch 1 and resumed: still the one-process run
    torchrun(*ARGS, "--run-dir", str(tmp_path / "two"), "--stop-after-epochs", "1")
    assert load_checkpoint(tmp_path / "two")["epoch"] == 1
    torchrun("--resume", str(tmp_path / "two"), "--no-progress")
    one, two = load_checkpoint(tmp_path / "one"), load_checkpoint(tmp_path / "two")
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, rtol=0, atol=1e-5, msg=key)
    for a, b in zip(metrics(tmp_path / "one"), metrics(tmp_path / "two"), strict=True):
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-4, (key, a[key], b[key])
    assert (tmp_path / "two" / "summary.json").exists()


def test_shard_slices_and_loss_scale_cover_the_global_batch():
    batch = torch.arange(7)
    parts = [DistributedContext(rank=r, world=3).shard(batch)[0] for r in range(3)]
    assert torch.equal(torch.cat(parts), batch)
    scales = [DistributedContext(rank=r, world=3).loss_scale(len(p), 7) for r, p in
              enumerate(parts)]
    assert sum(s * len(p) / 3 for s, p in zip(scales, parts)) == sum(len(p) ** 2 / 7 for p in parts)
    assert DistributedContext().shard(batch)[0] is batch and DistributedContext().loss_scale(3, 7) == 1
