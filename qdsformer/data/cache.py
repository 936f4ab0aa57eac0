"""Caches of derived arrays beside the data: one ``.npz`` per cache, tied to its sources.

A cache holds its arrays and a ``fingerprint`` of the sources it was built from (file names,
sizes, a version). It is written atomically (:func:`qdsformer.common.results.atomic_write_bytes`),
so a killed writer leaves the old cache or none, never half of one; a cache that is unreadable
or was built from other sources is ignored (and rebuilt by its caller).
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from qdsformer.common.results import atomic_write_bytes

log = logging.getLogger(__name__)


def read_cache(path: Path, fingerprint: str, what: str) -> dict[str, np.ndarray] | None:
    """The arrays of the cache at ``path``, or None when absent, unreadable or stale.

    Args:
        path: the ``.npz`` file.
        fingerprint: what the current sources give; a cache built from others is stale.
        what: the cache's name in the log lines (e.g. ``"eureka cache"``).
    """
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {k: archive[k] for k in archive.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        log.warning("%s %s is unreadable (%s); rebuilding it", what, path, err)
        return None
    if str(data.get("fingerprint", "")) != fingerprint:
        log.info("%s %s was built from other sources; rebuilding it", what, path)
        return None
    return data


def write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (with their ``fingerprint``) to ``path`` atomically."""
    atomic_write_bytes(path, lambda handle: np.savez(handle, **arrays))
