"""The run's device: ``run.device`` resolved and checked against this machine."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; otherwise ``torch.device(name)``, checked.

    Raises:
        ValueError: ``name`` is not a torch device, or names a CUDA / MPS device this machine
            does not have.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"run.device {name!r} is not a torch device") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"run.device {name!r}: CUDA is not available on this machine "
                         "(use run.device=cpu or auto)")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise ValueError(f"run.device {name!r}: this machine has {torch.cuda.device_count()} "
                         "CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"run.device {name!r}: MPS is not available on this machine")
    return device
