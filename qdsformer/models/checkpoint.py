"""Checkpoint I/O: atomic writes and safe loading (:mod:`qdsformer.models.runs` rebuilds the model).

A checkpoint is a dict saved with ``torch.save``: ``config`` (the resolved run config as plain
dicts), ``epoch`` (finished epochs), ``model``, ``optimizer``, ``scheduler`` state dicts,
``rng`` states (plain tuples, lists and tensors) and the per-epoch ``history``. Everything in it
is a plain type, so it loads with ``torch.load(weights_only=True)``: unpickling cannot run
code. A file that needs the full unpickler (a checkpoint written before this format, or a
crafted one) is refused unless the caller trusts it (``trust=True``, or the CLI's global
``--trust-checkpoint`` flag through :func:`trusted_checkpoints`).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from qdsformer.common.results import atomic_write_bytes
from qdsformer.common.trust import checkpoints_trusted, trusted_checkpoints

CHECKPOINT_NAME = "checkpoint.pt"

__all__ = ["CHECKPOINT_NAME", "CheckpointError", "load_checkpoint", "save_checkpoint",
           "trusted_checkpoints"]



class CheckpointError(ValueError):
    """A checkpoint that is damaged, not a checkpoint, or unsafe to unpickle."""


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Atomically ``torch.save`` ``state`` to ``path``."""
    atomic_write_bytes(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", *,
                    trust: bool = False) -> dict:
    """Load a checkpoint file, or ``<dir>/checkpoint.pt`` when ``path`` is a run folder.

    Args:
        path: checkpoint file or run folder.
        map_location: device the tensors are loaded onto.
        trust: use the full unpickler (runs any code the file names); only for legacy files
            you trust. Also on inside :func:`trusted_checkpoints`.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: the file is empty, truncated, not a checkpoint, or needs the full
            unpickler (old format or untrusted) and ``trust`` is off.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (not a checkpoint)")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is not
        raise CheckpointError(f"{path} is damaged or not a checkpoint (truncated or not a "
                              "torch.save archive)")
    trust = trust or checkpoints_trusted()
    try:
        state = torch.load(path, map_location=map_location, weights_only=not trust)
    except pickle.UnpicklingError as err:
        if trust:
            raise CheckpointError(f"{path} is damaged or not a checkpoint: "
                                  f"{_first_line(err)}") from err
        raise CheckpointError(
            f"{path} holds objects a safe load refuses (an old-format or untrusted checkpoint); "
            "if you trust the file, load it with 'qdsformer --trust-checkpoint COMMAND ...' "
            "(the option goes before the command)"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, AttributeError,
            ModuleNotFoundError) as err:
        raise CheckpointError(f"{path} is damaged or not a checkpoint: {_first_line(err)}"
                              ) from err
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a qdsformer checkpoint (no model state)")
    return state


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"
