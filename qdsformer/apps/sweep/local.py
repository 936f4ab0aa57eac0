"""Run sweep cells as ``qdsformer train`` worker processes on this machine.

Each cell runs in its own process (``python -m qdsformer train``), so a crash is isolated, its
output goes to ``<run_dir>/train.log``, and its thread count and GPU are set through its
environment: ``OMP_NUM_THREADS = cores // jobs`` (or ``threads`` when given: on a machine
shared with other work, one thread per worker avoids oversubscription, which slows torch on
CPU by an order of magnitude) and, when CUDA devices are present, worker w
sees device ``w % count``. Finished cells are skipped, partial ones resume from their
checkpoint, and a cell whose folder another process holds (the run lock) is left to it.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from qdsformer.apps.sweep.spec import Cell, cell_status
from qdsformer.train.config import save_config
from qdsformer.train.lock import INHERITED_LOCK_ENV, RunFolderBusy, RunFolderLock

log = logging.getLogger(__name__)
LOG_NAME = "train.log"


@dataclass
class CellResult:
    """What became of one cell in this call."""

    cell: Cell
    outcome: str  # finished | skipped (finished before) | busy (another process) | failed
    seconds: float = 0.0
    returncode: int | None = None

    @property
    def log_path(self) -> Path:
        return self.cell.run_dir / LOG_NAME


def train_command(cell: Cell) -> list[str]:
    """The ``qdsformer train`` argv that runs (or resumes) ``cell``.

    A new cell trains its resolved config, which :func:`run_cell` writes to
    ``<run_dir>/config.yaml`` first (``--config`` of a resolved file resolves to itself), so
    the child runs exactly what the sweep checked; a partial cell resumes.
    """
    argv = [sys.executable, "-m", "qdsformer", "train", "--no-progress"]
    if cell_status(cell) == "partial":
        return argv + ["--resume", str(cell.run_dir)]
    return argv + ["--config", str(cell.run_dir / "config.yaml"), "--run-dir", str(cell.run_dir)]


def check_workers(jobs, threads) -> None:
    """``--jobs`` and ``--threads`` (None: the default) are integers >= 1, else ValueError."""
    for option, value in (("--jobs", jobs), ("--threads", threads)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ValueError(f"{option} must be an integer >= 1, got {value!r}")


def worker_env(worker: int, jobs: int, cuda_devices: int, *, cores: int | None = None,
               threads: int | None = None) -> dict:
    """Environment of worker ``worker`` of ``jobs``: its threads and its GPU.

    ``threads`` None gives each worker its share of the cores, ``cores // jobs`` (at least 1).
    """
    check_workers(jobs, threads)
    cores = cores or os.cpu_count() or 1
    threads = str(threads or max(1, cores // max(jobs, 1)))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if cuda_devices > 0:
        env["CUDA_VISIBLE_DEVICES"] = str(worker % cuda_devices)
    return env


def run_cell(cell: Cell, *, env: dict | None = None) -> CellResult:
    """Run one cell to the end in a child process; never raises for the cell's own failure.

    The cell's run lock is taken here, before the child starts, and handed down to it, so two
    sweep processes can never both start the same cell.
    """
    if cell_status(cell) == "finished":
        return CellResult(cell, "skipped")
    try:
        lock = RunFolderLock(cell.run_dir).acquire()
    except RunFolderBusy:
        return CellResult(cell, "busy")
    try:
        status = cell_status(cell)  # again, under the lock: another process may just have ended
        if status == "finished":
            return CellResult(cell, "skipped")
        argv = train_command(cell)
        if status == "new":
            save_config(cell.config, cell.run_dir / "config.yaml")
        child_env = {**(env or os.environ), INHERITED_LOCK_ENV: f"{lock.fd}:{lock.path}"}
        started = time.perf_counter()
        with open(cell.run_dir / LOG_NAME, "a") as handle:
            handle.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {status}: {' '.join(argv)}\n")
            handle.flush()
            proc = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, env=child_env,
                                  pass_fds=(lock.fd,), check=False)
        seconds = time.perf_counter() - started
    finally:
        lock.release()
    outcome = "finished" if cell_status(cell) == "finished" else "failed"
    return CellResult(cell, outcome, seconds, proc.returncode)


def cuda_device_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_local(plan: list[Cell], *, jobs: int = 1, threads: int | None = None,
              on_done=None) -> list[CellResult]:
    """Run the cells of ``plan`` with ``jobs`` workers, in plan order.

    Each worker thread drives one child process at a time and takes the next cell when its
    own ends. ``threads``: OMP threads per worker (default ``cores // jobs``; see
    :func:`worker_env`). ``on_done(result)`` is called as each cell ends (the progress bar). Results come
    back in the order of ``plan``.
    """
    check_workers(jobs, threads)
    todo: queue.Queue = queue.Queue()
    for index, pair in enumerate(plan):
        todo.put((index, pair))
    results: list[CellResult | None] = [None] * len(plan)
    devices = cuda_device_count()

    def work(worker: int) -> None:
        env = worker_env(worker, jobs, devices, threads=threads)
        while True:
            try:
                index, cell = todo.get_nowait()
            except queue.Empty:
                return
            result = run_cell(cell, env=env)
            results[index] = result
            if on_done is not None:
                on_done(result)

    workers = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(jobs)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [r for r in results if r is not None]
