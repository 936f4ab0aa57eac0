"""Results I/O: atomic writes of JSON, CSV, YAML and bytes, and a backend-neutral figure saver.

Every file the package writes under ``results/`` goes through here. A write goes to a
temporary file ``.<name>.<8 random characters>.tmp`` beside the target and is renamed over it
(atomic on POSIX), so a crash or a kill mid-write leaves the previous file intact and readers
never see half a file. A kill can leave the temporary file behind; the owner of a folder (the
fit loop, under its run lock) removes such leftovers with :func:`remove_stale_temporaries`.
The renamed file gets the mode of an ordinary ``open(path, "w")`` under the current umask
(0644 under umask 022), not ``mkstemp``'s private 0600.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import yaml

#: The temporary files of :func:`atomic_write_bytes`: ``.<name>.<8 characters>.tmp`` (mkstemp).
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed :func:`atomic_write_bytes` calls left in ``folder``.

    Only names of our pattern ``.<name>.<8 characters>.tmp`` are touched, and only directly in
    ``folder``. Call it only while no other process can be writing there (the run lock held):
    a live writer's temporary file looks the same. Returns the removed paths.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if _TEMPORARY.match(entry.name) and entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


def atomic_write_bytes(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``.

    Parent folders are created. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # as open(path, "w") would, not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    data = text.encode()
    return atomic_write_bytes(path, lambda handle: handle.write(data))


def write_json(data: Any, path: str | os.PathLike, *, indent: int = 2) -> Path:
    """Atomically write ``data`` as JSON; values JSON does not know are written with ``str``."""
    return atomic_write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike, *,
              fieldnames: Sequence[str] | None = None) -> Path:
    """Atomically write dict ``rows`` as CSV with a header.

    Args:
        rows: one mapping per row.
        path: the file to write.
        fieldnames: the columns, in order (default: the keys of the first row). A row with a
            key outside them raises ValueError.
    """
    rows = list(rows)
    if fieldnames is None:
        if not rows:
            raise ValueError(f"no rows to write to {path} and no fieldnames given")
        fieldnames = list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def write_yaml(data: Any, path: str | os.PathLike) -> Path:
    """Atomically write ``data`` (plain dicts, lists, scalars) as YAML, keys in insertion order."""
    return atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def save_figure(figure, path: str | os.PathLike, *, dpi: int = 120, close: bool = False,
                **savefig_kwargs: Any) -> Path:
    """Save a matplotlib ``figure`` to ``path`` (parent folders created), atomically.

    Never calls ``matplotlib.use``: the backend is the caller's (a notebook keeps its inline
    backend). ``close=True`` closes the figure afterwards (scripts drawing many figures).
    The format follows the file suffix.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".") or None
    atomic_write_bytes(path, lambda handle: figure.savefig(handle, dpi=dpi, format=fmt,
                                                           **savefig_kwargs))
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return path


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Build a folder's whole content in a temporary folder beside ``path``, then swap it in.

    Yields the temporary folder (``.<name>.<8 characters>.tmp``, created with an ordinary
    folder's mode). When the block ends without an exception, a former ``path`` is renamed
    aside, the new folder renamed to ``path`` and the former one deleted: readers see the old
    set of files or the new one, never a mix. On an exception the temporary folder (and any
    parent folder this call created) is removed and ``path`` is left as it was.
    """
    path = Path(path)
    created = next((p for p in reversed(path.parents) if not p.exists()), None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    old = tmp.with_name(tmp.name[:-len(".tmp")] + ".old")
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        if path.exists():
            os.rename(path, old)
        os.rename(tmp, path)
    except BaseException:
        if old.exists() and not path.exists():
            os.rename(old, path)  # the swap failed half way: put the former folder back
        shutil.rmtree(tmp, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
