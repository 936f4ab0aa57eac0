"""Checkpoint I/O: atomic writes, and rebuilding a model from a checkpoint.

A checkpoint is a dict saved with ``torch.save``: ``config`` (the resolved run config as plain
dicts), ``epoch`` (finished epochs), ``model``, ``optimizer``, ``scheduler`` state dicts,
``rng`` states and the per-epoch ``history``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

CHECKPOINT_NAME = "checkpoint.pt"


def atomic_write_bytes(path: str | Path, write) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``.

    A crash mid-write leaves the previous file intact: the rename is atomic on POSIX.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def build_model_from_checkpoint(path: str | Path, map_location="cpu"):
    """Rebuild the ViT saved in a checkpoint; returns ``(model, checkpoint dict)``."""
    from qdsformer.models.vit import create_vit

    state = load_checkpoint(path, map_location)
    cfg = state["config"]
    model_kwargs = {k: v for k, v in cfg["model"].items() if k != "preset"}
    model = create_vit(
        cfg["model"]["preset"],
        attention=cfg["attention"]["name"],
        attention_kwargs=cfg["attention"]["kwargs"],
        **model_kwargs,
    )
    model.load_state_dict(state["model"])
    return model, state
