"""Reference pieces for checking the fast simulator: a plain-autograd simulator and a memory probe.

:func:`naive_unitary` applies the same 4x4 blocks as :func:`qdsformer.quantum.apply_blocks`
with ordinary differentiable ops (every intermediate state kept for backward): an independent
check of the adjoint gradients, and the baseline of the memory comparison in
``qdsformer bench simulator``. :func:`saved_tensor_bytes` measures what autograd keeps.
"""

from __future__ import annotations

import torch

from qdsformer.quantum.ansatz import Ansatz


def saved_tensor_bytes(fn) -> tuple[int, object]:
    """Run ``fn()`` and count the bytes autograd saves for backward (unique storages).

    Returns:
        (bytes, fn's result). On CPU this is the part of backward memory that can grow with
        circuit depth; tracemalloc does not see torch allocations.
    """
    storages: dict[tuple, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[(storage.data_ptr(), tensor.device.type)] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = fn()
    return sum(storages.values()), result


def naive_unitary(ansatz: Ansatz, angles: torch.Tensor) -> torch.Tensor:
    """Reference simulator with plain autograd: every intermediate V is kept for backward.

    Applies the same 4x4 blocks one by one with ordinary differentiable ops, so its saved
    memory grows linearly with depth; used for the memory comparison and in tests as an
    independent check of the adjoint gradients.
    """
    blocks = ansatz.block_unitaries(angles)  # (..., K, 4, 4)
    lead, dim = blocks.shape[:-3], 1 << ansatz.n_qubits
    state = torch.eye(dim, dtype=blocks.dtype, device=blocks.device).expand(*lead, dim, dim)
    for k, blk in enumerate(ansatz.blocks):
        view = state.reshape(*lead, 1 << blk.qubit, 4, -1)  # (..., 2^k, 4, R)
        state = (blocks[..., k, None, :, :] @ view).reshape(*lead, dim, dim)  # (..., D, D)
    return state
