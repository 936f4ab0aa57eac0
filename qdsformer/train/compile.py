"""``run.compile``: the fit loop's model under ``torch.compile``.

With ``run.compile: true`` the fit loop trains and evaluates ``torch.compile(model)``; the
checkpoint still holds the plain model's weights (no ``_orig_mod.`` prefixes), so a compiled
run resumes eagerly and the other way round. The mode depends on the device:

- CUDA: ``"reduce-overhead"``, which replays each compiled graph as a CUDA graph (one launch
  per graph instead of one per kernel; the QontOT simulator's many small kernels are where it
  pays). Graph breaks (for example the normalisers' finiteness check, a host sync; set
  ``attention.kwargs.check_finite=false`` to remove it) split the step into several graphs.
- anything else (CPU, MPS): ``"default"`` (Inductor's fused kernels, no CUDA graphs). On the
  CPU Inductor needs a C++ compiler (gcc).

Forward and backward are compiled (AOTAutograd); the optimizer step stays eager. The first
steps of each batch shape and of train / eval mode pay the compilation.

On the CPU it pays for softmax only: ``qdsformer bench simulator --train-step --compile``
measured compiled / eager steps of 0.89 (softmax) and 1.16-1.20 (QontOT, whose simulator
breaks the graph and recompiles per gate shape); see ``docs/guides/bench.md``.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def compile_mode(device: torch.device) -> str:
    """``torch.compile``'s mode for ``device``: CUDA graphs on CUDA, the default elsewhere."""
    return "reduce-overhead" if torch.device(device).type == "cuda" else "default"


def compile_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` under ``torch.compile`` in :func:`compile_mode`'s mode for ``device``.

    Args:
        model: the (possibly data-parallel) model the fit loop steps.
        device: where it runs.

    Returns:
        The compiled module; it shares its parameters with ``model``.
    """
    mode = compile_mode(device)
    log.info("run.compile: torch.compile(mode=%r) on %s", mode, device)
    return torch.compile(model, mode=mode)
