"""From circuit to attention: angle encoding, the block-sum readout and the padding correction.

QontOT (Born et al., "Quantum Doubly Stochastic Transformers", 2025; docs/quantum.md):

    angles = theta * tile(vec(M), n_params)                         (encoding)
    P[i, j] = (1/m) sum_{a, b} |V[(i, a), (j, b)]|^2,  m = 2^q_a     (readout)

with data qubits most significant, so row index (i, a) = i * m + a. P is exactly doubly
stochastic: a convex mixture of unistochastic matrices. For T not a power of two the circuit
computes an n x n P (n = 2^ceil(log2 T)); its T x T corner S is completed exactly by

    P' = S + r c^T / s,   r = 1 - S 1,   c = 1 - S^T 1,   s = sum(r) = sum(c),

which is doubly stochastic (S >= 0 is sub-stochastic, so r, c >= 0) and differentiable.
"""

from __future__ import annotations

import logging
import math

import torch

from qdsformer.quantum.ansatz import Ansatz

__all__ = [
    "complete_padded",
    "dsm_from_probs",
    "dsm_from_unitary",
    "encode_angles",
    "n_data_qubits_for",
    "qontot_dsm",
    "qontot_full_dsm",
]

log = logging.getLogger(__name__)


def n_data_qubits_for(n_tokens: int) -> int:
    """q_d = ceil(log2 T): data qubits needed for a T x T matrix (T = 1 needs 0)."""
    if not isinstance(n_tokens, int) or n_tokens < 1:
        raise ValueError(f"number of tokens T must be an int >= 1, got {n_tokens!r}")
    return max(0, math.ceil(math.log2(n_tokens)))


def dsm_from_probs(probs: torch.Tensor, n_data_qubits: int) -> torch.Tensor:
    """The block-sum readout of W = |V|^2: P[i, j] = (1/m) sum_{a,b} W[(i,a), (j,b)].

    Args:
        probs: (..., 2^q, 2^q) real, W[r, c] = |V[r, c]|^2 (e.g. measured column by column).
        n_data_qubits: q_d, the most significant qubits; m = 2^(q - q_d).

    Returns:
        P (..., 2^q_d, 2^q_d), doubly stochastic when V is unitary.
    """
    dim = probs.shape[-1]
    q = dim.bit_length() - 1
    if probs.dim() < 2 or probs.shape[-2] != dim or dim != 1 << q:
        raise ValueError(f"probs must be (..., 2^q, 2^q), got shape {tuple(probs.shape)}")
    if not 0 <= n_data_qubits <= q:
        raise ValueError(f"n_data_qubits must be in 0..{q} for a {dim}x{dim} unitary, "
                         f"got {n_data_qubits}")
    n, m = 1 << n_data_qubits, 1 << (q - n_data_qubits)
    blocks = probs.reshape(*probs.shape[:-2], n, m, n, m)  # (..., n, m, n, m)
    return blocks.sum(dim=(-3, -1)) / m  # (..., n, n)


def dsm_from_unitary(unitary: torch.Tensor, n_data_qubits: int) -> torch.Tensor:
    """P = (1/m) block-sum of |V|^2 over the auxiliary indices; see :func:`dsm_from_probs`.

    Args:
        unitary: V (..., 2^q, 2^q) complex (our qubit order, data qubits most significant).
        n_data_qubits: q_d.

    Returns:
        P (..., 2^q_d, 2^q_d) real.
    """
    probs = unitary.real.square() + unitary.imag.square()  # (..., D, D) = |V|^2
    return dsm_from_probs(probs, n_data_qubits)


def complete_padded(full: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Keep the T x T corner S of a doubly stochastic n x n P and complete it exactly.

    P' = S + r c^T / s with r = 1 - S 1, c = 1 - S^T 1, s = sum(r); rows and columns of P'
    sum to 1. Where s = 0 (the corner is already doubly stochastic) P' = S.

    Args:
        full: (..., n, n) doubly stochastic.
        n_tokens: T <= n.

    Returns:
        (..., T, T).
    """
    n = full.shape[-1]
    if not 1 <= n_tokens <= n:
        raise ValueError(f"n_tokens must be in 1..{n}, got {n_tokens}")
    if n_tokens == n:
        return full
    corner = full[..., :n_tokens, :n_tokens]  # (..., T, T)
    r = (1 - corner.sum(-1)).clamp_min(0)  # (..., T)
    c = (1 - corner.sum(-2)).clamp_min(0)  # (..., T)
    s = r.sum(-1, keepdim=True)  # (..., 1)
    s = torch.where(s > 0, s, torch.ones_like(s))  # r = c = 0 there
    return corner + r[..., :, None] * c[..., None, :] / s[..., None]  # (..., T, T)


def encode_angles(scores: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """angles = theta * tile(vec(M), n_params): parameter k gets score entry k mod T^2.

    Args:
        scores: M (..., T, T), row-major vec.
        theta: (n_params,) circuit parameters.

    Returns:
        (..., n_params). With n_params < T^2 only the first n_params entries enter.
    """
    if theta.dim() != 1:
        raise ValueError(f"theta must be 1-D (n_params,), got shape {tuple(theta.shape)}")
    flat = scores.flatten(-2)  # (..., T^2)
    reps = math.ceil(theta.shape[0] / flat.shape[-1])
    tiled = flat.repeat(*([1] * (flat.dim() - 1)), reps)[..., : theta.shape[0]]  # (..., n_params)
    return tiled * theta.to(scores.dtype)  # (..., n_params)


def qontot_full_dsm(scores: torch.Tensor, theta: torch.Tensor, ansatz: Ansatz) -> torch.Tensor:
    """The circuit's n x n doubly stochastic matrix before the padding completion.

    P_n = dsm_from_unitary(V(theta * tile(vec(M))), q_d), n = 2^q_d, q_d = ceil(log2 T): what
    the Bell-pair readout measures on hardware (``qdsformer.hardware.bell``), so noise models of
    the measurement (``qdsformer.quantum.noise``) act on it before :func:`complete_padded`.

    Args:
        scores: M (..., T, T), real floating; float64 runs the simulator in complex128.
        theta: (ansatz.n_params,) parameters.
        ansatz: from :func:`qdsformer.quantum.get_ansatz`, with n_qubits >= q_d.

    Returns:
        P_n (..., n, n); differentiable w.r.t. scores and theta.
    """
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be square (..., T, T), got shape {tuple(scores.shape)}")
    n_tokens = scores.shape[-1]
    q_d = n_data_qubits_for(n_tokens)
    if q_d > ansatz.n_qubits:
        raise ValueError(f"T = {n_tokens} needs {q_d} data qubits but {ansatz!r} has only "
                         f"{ansatz.n_qubits}")
    if theta.shape != (ansatz.n_params,):
        raise ValueError(f"theta must have shape ({ansatz.n_params},) for {ansatz!r}, "
                         f"got {tuple(theta.shape)}")
    angles = encode_angles(scores, theta)  # (..., n_params)
    unitary = ansatz.unitary(angles)  # (..., D, D)
    return dsm_from_unitary(unitary, q_d)  # (..., n, n)


def qontot_dsm(scores: torch.Tensor, theta: torch.Tensor, ansatz: Ansatz) -> torch.Tensor:
    """The exact QontOT doubly stochastic matrix for given scores and circuit parameters.

    P = complete_padded(dsm_from_unitary(V(theta * tile(vec(M))), q_d), T), q_d = ceil(log2 T),
    q_a = ansatz.n_qubits - q_d auxiliary qubits (:func:`qontot_full_dsm`, then
    :func:`complete_padded`).

    Args:
        scores: M (..., T, T), real floating; float64 runs the simulator in complex128.
        theta: (ansatz.n_params,) parameters.
        ansatz: from :func:`qdsformer.quantum.get_ansatz`, with n_qubits >= q_d.

    Returns:
        P (..., T, T), rows and columns summing to 1; differentiable w.r.t. scores and theta.
    """
    full = qontot_full_dsm(scores, theta, ansatz)  # (..., n, n)
    return complete_padded(full, scores.shape[-1])  # (..., T, T)
