"""The simulator's one kernel: a gate on adjacent qubits applied to a batch of matrices.

With qubit k the (k+1)-th most significant bit of the row index, the rows of a (D, C) matrix
reshape to (2^k, 2^w, D / 2^(k+w) * C) and a 2^w x 2^w gate on qubits k .. k + w - 1 is one
batched matmul on the middle axis. Used by the simulator's forward and adjoint backward and
by gate fusion (building a fused gate is the same product on a 2^w x 2^w identity). A gate on
the identity is I (x) F (x) I, written by :func:`embed_gate` instead of multiplied.
"""

from __future__ import annotations

import torch

__all__ = ["apply_gate", "embed_gate", "gate_diagonal"]


def apply_gate(gate: torch.Tensor, state: torch.Tensor, qubit: int,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """Left-multiply each matrix of ``state`` by a 2^w x 2^w gate on qubits qubit .. qubit + w - 1.

    Args:
        gate: (..., N, m, m) complex, m = 2^w, broadcastable against ``state``'s leading dims.
        state: (..., N, D, C) contiguous complex, D = 2^q rows, C columns.
        qubit: first (most significant) target qubit.
        out: optional preallocated result buffer shaped like ``state`` (not ``state`` itself).

    Returns:
        (..., N, D, C): (I (x) gate (x) I) state, matrix by matrix: one batched matmul on the
        view (..., N, 2^qubit, m, R).
    """
    if qubit:
        view = state.view(*state.shape[:-2], 1 << qubit, gate.shape[-1], -1)  # (..., N, 2^k, m, R)
        gate = gate.unsqueeze(-3)  # (..., N, 1, m, m)
    else:
        view = state.view(*state.shape[:-2], gate.shape[-1], -1)  # (..., N, m, R)
    if out is None:
        return torch.matmul(gate, view).view(state.shape)  # (..., N, D, C)
    torch.matmul(gate, view, out=out.view(view.shape))
    return out


def gate_diagonal(state: torch.Tensor, first: int, width: int) -> torch.Tensor:
    """The entries Y[(l, i, r), (l, j, r)] of contiguous (N, D, D) matrices as one strided
    view (N, L, R, m, m), [n, l, r, i, j]: where a gate F on qubits first .. first + w - 1
    sits in I (x) F (x) I."""
    n, dim = state.shape[0], state.shape[-1]
    size, left = 1 << width, 1 << first
    right = dim // (size * left)
    return state.as_strided((n, left, right, size, size),
                            (dim * dim, size * right * (dim + 1), dim + 1, right * dim, right),
                            state.storage_offset())


def embed_gate(gate: torch.Tensor, first: int, out: torch.Tensor) -> torch.Tensor:
    """Write I (x) F (x) I into contiguous ``out`` (N, D, D) for gates F (N, m, m) on qubits
    first .. first + w - 1: the first gate applied to the identity, as a write, not a
    product (the 4x4 product on the identity was the slowest call of a q = 5 forward)."""
    width = gate.shape[-1].bit_length() - 1
    out.zero_()
    gate_diagonal(out, first, width).copy_(gate[:, None, None])  # (N, L, R, m, m)
    return out
