"""The process-wide opt-in to load trusted legacy checkpoints with the full unpickler.

Kept free of torch so the CLI dispatcher can set it from ``--trust-checkpoint`` without
importing the model stack; :func:`qdsformer.models.load_checkpoint` reads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_TRUST = {"all": False}


@contextlib.contextmanager
def trusted_checkpoints() -> Iterator[None]:
    """Within this block every checkpoint load uses the full (code-running) unpickler.

    Only for legacy files the user vouches for (the CLI's ``--trust-checkpoint``).
    """
    before = _TRUST["all"]
    _TRUST["all"] = True
    try:
        yield
    finally:
        _TRUST["all"] = before


def checkpoints_trusted() -> bool:
    """Whether :func:`trusted_checkpoints` is active."""
    return _TRUST["all"]
