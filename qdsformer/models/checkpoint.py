"""Checkpoint I/O: atomic writes and loading (:mod:`qdsformer.models.runs` rebuilds the model).

A checkpoint is a dict saved with ``torch.save``: ``config`` (the resolved run config as plain
dicts), ``epoch`` (finished epochs), ``model``, ``optimizer``, ``scheduler`` state dicts,
``rng`` states and the per-epoch ``history``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from qdsformer.common.results import atomic_write_bytes

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Atomically ``torch.save`` ``state`` to ``path``."""
    atomic_write_bytes(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint file, or ``<dir>/checkpoint.pt`` when ``path`` is a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=False)
