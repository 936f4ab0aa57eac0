"""The run's device: ``run.device`` resolved and checked against this machine."""

from __future__ import annotations

import torch


def resolve_device(name: str, key: str = "run.device") -> torch.device:
    """``auto`` -> CUDA when present, else CPU; otherwise ``torch.device(name)``, checked.

    ``key`` names the option in the error messages (``--device`` for a command's flag).

    Raises:
        ValueError: ``name`` is not a torch device, or names a CUDA / MPS device this machine
            does not have.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"{key} {name!r} is not a torch device") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        hint = "run.device=cpu or auto" if key == "run.device" else f"{key} cpu"
        raise ValueError(f"{key} {name!r}: CUDA is not available on this machine (use {hint})")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise ValueError(f"{key} {name!r}: this machine has {torch.cuda.device_count()} "
                         "CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{key} {name!r}: MPS is not available on this machine")
    return device
