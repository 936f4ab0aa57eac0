"""The batched exact circuit simulator: all unitaries at once, gate by gate, adjoint backward.

The circuit is a product of two-qubit blocks on adjacent qubits, V = G_K ... G_1. Each block
acts on the full 2^q x 2^q unitary of every circuit in the batch at once: with qubit k the
(k+1)-th most significant bit of the row index, the rows of V reshape to
(2^k, 4, 2^(q-k-2) * 2^q) and the block is one batched 4x4 matmul on the middle axis.

Backward (adjoint method, as in quantum-circuit autodiff, e.g. Jones & Gacon 2020): forward
keeps only the final V. With Lambda_k = dL/dV_k (PyTorch's conjugate convention) and
Y_k = Lambda_k V_k^dagger, the block gradients follow from one D x D matrix per circuit,
walked back through the blocks by unitary conjugation:

    Y_K = Lambda_K V^dagger,   Y_{k-1} = G_k^dagger Y_k G_k,
    dL/dG_k = tr_rest(Lambda_k V_{k-1}^dagger) = tr_rest(Y_k) G_k,

tr_rest the partial trace over every qubit but the block's two (V_{k-1} = G_k^dagger V_k
and Lambda_{k-1} = G_k^dagger Lambda_k give the recursion). Backward memory is two D x D
buffers per circuit whatever the depth (plus the K blocks' angles); time is about four
forward passes on one CPU core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["apply_block", "apply_blocks"]


def apply_block(gate: torch.Tensor, state: torch.Tensor, qubit: int,
                out: torch.Tensor | None = None) -> torch.Tensor:
    """Left-multiply each matrix of ``state`` by a two-qubit gate on (qubit, qubit + 1).

    Args:
        gate: (..., N, 4, 4) complex, broadcastable against ``state``'s leading dims.
        state: (..., N, D, C) contiguous complex, D = 2^q rows, C columns.
        qubit: first (more significant) target qubit.
        out: optional preallocated result buffer shaped like ``state`` (not ``state``
            itself); reusing buffers avoids a fresh allocation per gate.

    Returns:
        (..., N, D, C): (I (x) gate (x) I) state, matrix by matrix.
    """
    view = state.view(*state.shape[:-2], 1 << qubit, 4, -1)  # (..., N, 2^k, 4, R)
    gate = gate.unsqueeze(-3)  # (..., N, 1, 4, 4)
    if out is None:
        return torch.matmul(gate, view).view(state.shape)  # (..., N, D, C)
    torch.matmul(gate, view, out=out.view(view.shape))
    return out


# Size of one chunk of the state buffers on CPU: the batch is processed in chunks small
# enough to stay in cache through all K gates (about 2x faster than streaming the whole
# batch through memory once per gate; 4 MiB beat 0.5, 1, 2 and 16 MiB at q = 7 on one core
# of a 1 MiB-L2 / 32 MiB-L3 EPYC). Each chunk is still one batched op per gate; on CUDA
# the whole batch is one chunk.
CPU_CHUNK_BYTES = 1 << 22


def _chunk_slices(n: int, bytes_per_item: int, device: torch.device) -> list[slice]:
    if device.type != "cpu":
        return [slice(0, n)]
    size = max(1, CPU_CHUNK_BYTES // bytes_per_item)
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


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


def _identity(params: torch.Tensor) -> torch.Tensor:
    return params


class _AdjointCircuit(torch.autograd.Function):
    """params (N, K, ...) -> V (N, D, D); backward by uncomputing with the gates' inverses.

    ``make_blocks`` maps params to the blocks (N, K, 4, 4); only params and the final V are
    saved, and the small params -> blocks map is re-run with autograd inside backward.
    """

    @staticmethod
    def forward(ctx, params: torch.Tensor, make_blocks, qubits: tuple[int, ...], n_qubits: int):
        blocks = make_blocks(params)  # (N, K, 4, 4)
        n, dim = blocks.shape[0], 1 << n_qubits
        kw = {"dtype": blocks.dtype, "device": blocks.device}
        final = torch.empty(n, dim, dim, **kw)  # (N, D, D)
        eye = torch.eye(dim, **kw)  # (D, D)
        slices = _chunk_slices(n, 2 * dim * dim * blocks.element_size(), blocks.device)
        buffers = torch.empty(2, slices[0].stop, dim, dim, **kw)  # ping-pong (2, c, D, D)
        for sl in slices:
            c = sl.stop - sl.start
            state, spare = buffers[0, :c], buffers[1, :c]  # (c, D, D) each
            state.copy_(eye.expand(c, dim, dim))
            for k, qubit in enumerate(qubits):
                state, spare = apply_block(blocks[sl, k], state, qubit, out=spare), state
            final[sl] = state
        ctx.save_for_backward(params, final)
        ctx.make_blocks, ctx.qubits = make_blocks, qubits
        return final

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_v: torch.Tensor):
        params, final = ctx.saved_tensors
        qubits, n, dim = ctx.qubits, final.shape[0], final.shape[-1]
        kw = {"dtype": final.dtype, "device": final.device}
        blocks = ctx.make_blocks(params)  # (N, K, 4, 4)
        adjoints = blocks.mH.resolve_conj().contiguous()  # (N, K, 4, 4) G^dagger
        traces = torch.empty_like(blocks)  # (N, K, 4, 4): partial traces of Y_k
        slices = _chunk_slices(n, 2 * dim * dim * final.element_size(), final.device)
        buffers = torch.empty(2, slices[0].stop, dim, dim, **kw)  # ping-pong (2, c, D, D)
        for sl in slices:
            c = sl.stop - sl.start
            y, spare = buffers[0, :c], buffers[1, :c]  # (c, D, D) each
            torch.matmul(grad_v[sl].to(final.dtype), final[sl].mH, out=y)  # Y_K = Lambda V^dag
            for k in range(len(qubits) - 1, -1, -1):
                traces[sl, k] = _partial_trace(y, qubits[k])  # (c, 4, 4)
                y, spare = apply_block(adjoints[sl, k], y, qubits[k], out=spare), y
                y, spare = _apply_block_right(blocks[sl, k], y, qubits[k], out=spare), y
        # dL/dG_k = tr_rest(Lambda_k V_{k-1}^dag) = tr_rest(Y_k G_k) = tr_rest(Y_k) G_k
        grad_blocks = traces @ blocks  # (N, K, 4, 4)
        if ctx.make_blocks is _identity:
            return grad_blocks, None, None, None
        with torch.enable_grad():
            leaf = params.detach().requires_grad_(True)
            (grad_params,) = torch.autograd.grad(ctx.make_blocks(leaf), leaf, grad_blocks)
        return grad_params, None, None, None


def apply_blocks(params: torch.Tensor, qubits: Sequence[int], n_qubits: int,
                 make_blocks: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 param_ndim: int = 2) -> torch.Tensor:
    """V = G_K ... G_1 for a batch of circuits of two-qubit blocks on adjacent qubits.

    Args:
        params: (..., K, *p) per-block parameters, ``param_ndim = len(p)``; by default the
            complex block unitaries themselves, (..., K, 4, 4), applied first to last. The
            blocks must be unitary: backward uncomputes with G^-1 = G^dagger.
        qubits: K ints, block k acts on (qubits[k], qubits[k] + 1); qubit 0 is the most
            significant bit of the basis index.
        n_qubits: q.
        make_blocks: maps params (N, K, *p) to blocks (N, K, 4, 4) (e.g. angles (N, K, 4) ->
            ``block_matrices``); it is re-run with autograd in backward instead of saving its
            intermediates, so only ``params`` and V are kept.
        param_ndim: number of trailing per-block parameter dims (2 for raw blocks).

    Returns:
        V (..., 2^q, 2^q), the dtype/device of the blocks. Differentiable w.r.t. ``params`` by
        the adjoint method: saved memory is V plus params, whatever K.
    """
    qubits = tuple(int(k) for k in qubits)
    if params.dim() < 1 + param_ndim or params.shape[-1 - param_ndim] != len(qubits):
        raise ValueError(f"params must be (..., K={len(qubits)}, ...) with {param_ndim} "
                         f"parameter dims, got shape {tuple(params.shape)}")
    bad = [k for k in qubits if not 0 <= k <= n_qubits - 2]
    if bad:
        raise ValueError(f"block qubits {bad} out of range 0..{n_qubits - 2} for {n_qubits} qubits")
    if make_blocks is None:
        if not params.is_complex() or params.shape[-2:] != (4, 4) or param_ndim != 2:
            raise ValueError(f"blocks must be complex (..., K, 4, 4), got {params.dtype} "
                             f"{tuple(params.shape)}")
        make_blocks = _identity
    lead = params.shape[: params.dim() - 1 - param_ndim]
    flat = params.reshape(-1, *params.shape[len(lead):])  # (N, K, *p)
    dim = 1 << n_qubits
    return _AdjointCircuit.apply(flat, make_blocks, qubits, n_qubits).reshape(*lead, dim, dim)
