"""Reference pieces for checking the fast simulator (never on the training path).

- :func:`naive_unitary` applies the same 4x4 blocks as :func:`qdsformer.quantum.apply_blocks`
  with ordinary differentiable ops (every intermediate state kept for backward): an independent
  check of the adjoint gradients, and the baseline of the memory comparison in
  ``qdsformer bench simulator``; :func:`saved_tensor_bytes` measures what autograd keeps.
- :func:`adjoint_block_grads_recursion` is the block-by-block adjoint recursion the simulator
  used before gate fusion: Y_K = Lambda V^dagger, Y_{k-1} = G_k^dagger Y_k G_k,
  dL/dG_k = tr_rest(Y_k) G_k, one 4x4 block at a time, with the right factor applied per run
  length R of the column qubits. Tests compare the fused, stage-wise backward with it.
"""

from __future__ import annotations

import torch

from qdsformer.quantum.ansatz import Ansatz
from qdsformer.quantum.simulator import apply_block

__all__ = ["adjoint_block_grads_recursion", "naive_unitary", "saved_tensor_bytes"]

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


# Right-multiplying by a gate on low-order column qubits leaves runs of R contiguous entries
# per gate index. Fastest per R, measured on one CPU core at q = 7 (16 circuits of 128x128):
# R >= 32 a batched 4x4 matmul; R = 8, 16 transposing, left-multiplying by G^T and
# transposing back (2-3x faster than either matmul); R <= 4 one GEMM with G (x) I_R.
_RIGHT_BATCHED_MIN_RUN = 32
_RIGHT_KRON_MAX_RUN = 4


def _apply_block_right(gate: torch.Tensor, state: torch.Tensor, qubit: int,
                       out: torch.Tensor) -> torch.Tensor:
    """Right-multiply (N, D, D) ``state`` by the gate (N, 4, 4) on (qubit, qubit + 1).

    The result goes to ``out``; ``state`` may be overwritten (used as scratch).
    """
    n, dim = state.shape[0], state.shape[-1]
    run = dim // (4 << qubit)  # R: contiguous entries per gate index in a row
    if run >= _RIGHT_BATCHED_MIN_RUN:
        view = state.view(n, dim << qubit, 4, run)  # (N, D * 2^k, 4, R): column index split
        torch.matmul(gate.mT.unsqueeze(-3), view, out=out.view(view.shape))
    elif run <= _RIGHT_KRON_MAX_RUN:
        eye = torch.eye(run, dtype=gate.dtype, device=gate.device)
        kron = (gate[:, :, None, :, None] * eye[:, None, :]).reshape(n, 4 * run, 4 * run)
        view = state.view(n, -1, 4 * run)  # (N, D * 2^k, 4R)
        torch.matmul(view, kron, out=out.view(view.shape))
    else:  # (Y G)^T = G^T Y^T
        out.copy_(state.mT)  # (N, D, D) Y^T
        apply_block(gate.mT, out, qubit, out=state)  # G^T Y^T
        out.copy_(state.mT)
    return out


def _partial_trace(state: torch.Tensor, qubit: int) -> torch.Tensor:
    """(N, D, D) -> (N, 4, 4): trace over every qubit but (qubit, qubit + 1)."""
    n, dim = state.shape[0], state.shape[-1]
    left = 1 << qubit
    right = dim // (4 * left)
    view = state.view(n, left, 4, right, left, 4, right)  # (N, L, 4, R, L, 4, R)
    diag = view.diagonal(dim1=1, dim2=4).diagonal(dim1=2, dim2=4)  # (N, 4, 4, L, R)
    return diag.sum(dim=(-2, -1))  # (N, 4, 4)


def adjoint_block_grads_recursion(blocks: torch.Tensor, qubits: tuple[int, ...],
                                  final: torch.Tensor, grad_v: torch.Tensor) -> torch.Tensor:
    """dL/dG_k for V = G_K ... G_1 by the block-by-block recursion (no fusion, no chunks).

    Args:
        blocks: (N, K, 4, 4) unitary blocks; block k acts on (qubits[k], qubits[k] + 1).
        qubits: K ints.
        final: V (N, D, D).
        grad_v: Lambda = dL/dV (N, D, D), PyTorch's convention for complex tensors.

    Returns:
        (N, K, 4, 4).
    """
    adjoints = blocks.mH.resolve_conj().contiguous()  # (N, K, 4, 4) G^dagger
    traces = torch.empty_like(blocks)  # (N, K, 4, 4)
    y = grad_v.to(final.dtype) @ final.mH  # (N, D, D) Y_K
    spare = torch.empty_like(y)
    for k in range(len(qubits) - 1, -1, -1):
        traces[:, k] = _partial_trace(y, qubits[k])  # (N, 4, 4)
        y, spare = apply_block(adjoints[:, k], y, qubits[k], out=spare), y
        y, spare = _apply_block_right(blocks[:, k].contiguous(), y, qubits[k], out=spare), y
    return traces @ blocks  # (N, K, 4, 4)
