"""One owner per run folder: an exclusive OS file lock held for the run's whole life.

``fit`` takes the lock before it reads or writes anything in the folder, so two processes
(two ``qdsformer train`` with the same run name, or two ``qdsformer sweep`` workers on one cell)
can never write one run; the second gets :class:`RunFolderBusy` naming the folder and the pid of
the owner. The lock is ``flock`` on ``<run_dir>/run.lock``: the kernel drops it when its process
dies, so a killed run never leaves a stale lock behind.

A parent that launches the run as a child process (``qdsformer sweep``) takes the lock first
and hands its descriptor down (``pass_fds`` plus the environment variable ``INHERITED_LOCK_ENV``
= ``"<fd>:<lock path>"``): the child adopts it instead of competing with its own parent, and
there is no window between the parent's check and the child's start in which another process
could take the folder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "run.lock"
INHERITED_LOCK_ENV = "QDSFORMER_INHERITED_RUN_LOCK"


class RunFolderBusy(ValueError):
    """Another live process holds the run folder."""


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


class RunFolderLock:
    """Context manager: exclusive, non-blocking lock on ``run_dir`` (created if missing)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def fd(self) -> int | None:
        """The locked descriptor (to hand to a child process), or None when not held."""
        return self._fd

    def _inherited_fd(self) -> int | None:
        fd_text, _, path = os.environ.get(INHERITED_LOCK_ENV, "").partition(":")
        if not fd_text.isdigit() or not path:
            return None
        try:
            same = os.path.samefile(path, self.path)
        except OSError:
            return None
        return int(fd_text) if same else None

    def acquire(self) -> RunFolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._inherited_fd()  # our parent locked this folder for us
        if fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunFolderBusy(
                f"run folder {self.path.parent} is in use by another process "
                f"(pid {_holder(self.path)}); wait for it to finish or pick another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunFolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process holds ``run_dir``'s lock right now (no folder -> False)."""
    path = Path(run_dir) / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our probe lock, if we got it
    return False
