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
and Lambda_{k-1} = G_k^dagger Lambda_k give the recursion).

Gate fusion (:mod:`qdsformer.quantum.fusion`): both passes work on *fused gates*, products
of blocks on at most ``FUSE_MAX_WIDTH`` adjacent qubits (16x16 by default;
``BACKWARD_FUSE_MAX_WIDTH``, 32x32, for the backward's own plan), because a wide gate keeps a
CPU core's vector units busy where a 4x4 one cannot. The recursion above holds for any gate,
so the backward walks Y back fused gate by fused gate and takes dL/dF = tr_rest(Y) F on the
fused gate's qubits; a fused gate is itself a small circuit of blocks, so dL/dF is mapped to
its blocks by the same recursion on 2^w x 2^w matrices (:func:`fused_block_grads`), batched
over all gates of one layout. Y is not walked past the first stage (nothing there is traced).

Layout of the backward: Y <- F^dagger Y F needs a left and a right factor. Left factors are
plain batched matmuls on the rows; a right factor on middle column qubits is not (its
contiguous runs are short). So the held matrix alternates between Y and Y^T: per *stage*
(consecutive fused gates on disjoint qubits, which share the state Y) the left factors are
applied, the matrix is transposed once, and the right factors are applied as left factors
of the transpose. A lone gate on the least significant qubits needs no transpose (its right
factor is one GEMM). Backward memory is two D x D buffers per circuit whatever the depth
(plus the K blocks' angles and the fused gates' small matrices).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

from qdsformer.quantum.apply import apply_gate, embed_gate, gate_diagonal
from qdsformer.quantum.fusion import (
    FusedGate,
    block_index,
    fuse_blocks,
    fused_matrices,
    gate_groups,
    group_blocks,
    plan_stages,
)

__all__ = ["adjoint_gate_grads", "apply_block", "apply_blocks", "apply_gate", "fused_block_grads",
           "fusion_width", "simulation_flops"]


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
    return apply_gate(gate, state, qubit, out=out)


# Widest fused gate (qubits) of the forward and of the adjoint backward; 2 turns fusion off.
# Measured on one core (Xeon, AVX-512) at q = 7, 16 layers, 200 circuits: see the simulator
# section of docs/guides/bench.md and results/bench/simulator*.json. The backward has its own plan
# (it rebuilds the fused gates from the blocks): 32x32 gates give 13 stages instead of 18 at
# q = 7, so 5 fewer D x D transposes, for 7% more multiply-adds; forward+backward was 7%
# faster than with 16x16 gates in two side-by-side runs (process CPU time, medians of 5).
FUSE_MAX_WIDTH = 4
BACKWARD_FUSE_MAX_WIDTH = 5

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


def _identity(params: torch.Tensor) -> torch.Tensor:
    return params


class _AdjointCircuit(torch.autograd.Function):
    """params (N, K, ...) -> V (N, D, D); backward by uncomputing with the gates' inverses.

    ``make_blocks`` maps params to the blocks (N, K, 4, 4); only params and the final V are
    saved, and the small params -> blocks -> fused gates map is re-run with autograd inside
    backward. See the module docstring for the backward's layout.
    """

    @staticmethod
    def forward(ctx, params: torch.Tensor, make_blocks, qubits: tuple[int, ...], n_qubits: int):
        blocks = make_blocks(params)  # (N, K, 4, 4)
        gates, _ = _plan(qubits, fusion_width(n_qubits))
        mats = fused_matrices(blocks, qubits, gates)  # per gate (N, 2^w, 2^w)
        n, dim = blocks.shape[0], 1 << n_qubits
        kw = {"dtype": blocks.dtype, "device": blocks.device}
        final = torch.empty(n, dim, dim, **kw)  # (N, D, D)
        slices = _chunk_slices(n, 2 * dim * dim * blocks.element_size(), blocks.device)
        buffers = torch.empty(2, slices[0].stop, dim, dim, **kw)  # ping-pong (2, c, D, D)
        last = len(gates) - 1
        for sl in slices:
            c = sl.stop - sl.start
            state, spare = buffers[0, :c], buffers[1, :c]  # (c, D, D) each
            # the first gate on the identity is I (x) F_1 (x) I: written, not multiplied
            embed_gate(mats[0][sl], gates[0].first, final[sl] if last == 0 else state)
            for i in range(1, last + 1):  # the last product lands in V itself
                out = final[sl] if i == last else spare
                state, spare = apply_gate(mats[i][sl], state, gates[i].first, out=out), state
        ctx.save_for_backward(params, final)
        ctx.make_blocks, ctx.qubits = make_blocks, qubits
        return final

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_v: torch.Tensor):
        params, final = ctx.saved_tensors
        qubits = ctx.qubits
        gates, stages = _plan(qubits, fusion_width(final.shape[-1].bit_length() - 1, True))
        with torch.enable_grad():
            leaf = params.detach().requires_grad_(True)
            blocks = ctx.make_blocks(leaf)  # (N, K, 4, 4)
        mats = fused_matrices(blocks.detach(), qubits, gates)  # per gate (N, m, m)
        grad_mats = adjoint_gate_grads(mats, gates, stages, final, grad_v.to(final.dtype))
        grad_blocks = fused_block_grads(blocks.detach(), qubits, gates, mats, grad_mats)
        if ctx.make_blocks is _identity:
            return grad_blocks, None, None, None
        (grad_params,) = torch.autograd.grad(blocks, leaf, grad_blocks)
        return grad_params, None, None, None


def fusion_width(n_qubits: int, backward: bool = False) -> int:
    """Fusion width used for q qubits: FUSE_MAX_WIDTH (BACKWARD_FUSE_MAX_WIDTH for the adjoint
    backward), at most q - 2 (at least 2).

    A fused gate must stay small next to the D x D state (a 2^(q-1) gate on q qubits was
    slower than 8x8 ones at q = 5: too little work per matmul, too much per gate product).
    """
    widest = BACKWARD_FUSE_MAX_WIDTH if backward else FUSE_MAX_WIDTH
    return max(2, min(widest, n_qubits - 2))


def fused_block_grads(blocks: torch.Tensor, qubits: tuple[int, ...],
                      gates: Sequence[FusedGate], mats: Sequence[torch.Tensor],
                      grad_mats: Sequence[torch.Tensor]) -> torch.Tensor:
    """dL/dB_k for every block, from dL/dF_g of the fused gates that contain them.

    A fused gate F = B_b ... B_1 on w qubits is itself a small circuit, so its blocks'
    gradients are the same adjoint recursion (:func:`adjoint_gate_grads`) on 2^w x 2^w
    matrices, with F as "V" and dL/dF as "Lambda". Gates with one layout
    (:func:`qdsformer.quantum.fusion.gate_groups`) run as one batch, so the cost is a few
    small batched ops per block of one gate of each layout, not an autograd graph per gate.

    Args:
        blocks: (N, K, 4, 4) unitary blocks.
        qubits: first qubit of each block.
        gates: the fused gates; mats their (N, m, m) matrices, grad_mats dL/dF (N, m, m).

    Returns:
        (N, K, 4, 4) dL/dB in PyTorch's convention for complex tensors.
    """
    n = blocks.shape[0]
    grad_blocks = torch.empty_like(blocks)  # (N, K, 4, 4)
    for local, members in gate_groups(qubits, tuple(gates)):
        group = [gates[i] for i in members]
        index = block_index(tuple(group), blocks.device)  # (G', b)
        if len(local) == 1 and group[0].width == 2:
            grad_blocks[:, index[:, 0]] = torch.stack([grad_mats[i] for i in members], 1)
            continue
        size = 1 << group[0].width
        final = torch.stack([mats[i] for i in members], 1).view(-1, size, size)  # (N G', m, m)
        grad = torch.stack([grad_mats[i] for i in members], 1).view(-1, size, size)
        part = group_blocks(blocks, group)  # (b, N G', 4, 4)
        if size <= DENSE_WALK_MAX_SIZE:
            grads = _dense_local_grads(part, local, final, grad)
        else:
            small_gates, small_stages = _local_plan(local)
            grads = adjoint_gate_grads(list(part), small_gates, small_stages, final,
                                       grad)  # per block (N G', 4, 4)
        grad_blocks[:, index] = torch.stack(grads, 1).view(n, len(group), len(local), 4, 4)
    return grad_blocks


#: Largest fused gate (m x m) whose blocks' gradients walk Y with m x m products of the
#: embedded blocks (:func:`_dense_local_grads`) instead of thin 4x4 applications: at 8 x 8
#: the two products take a third of the time of the two applications and a transpose; at
#: 16 x 16 and above the applications win (one core, 400 gates).
DENSE_WALK_MAX_SIZE = 8


def _dense_local_grads(part: torch.Tensor, local: tuple[int, ...], final: torch.Tensor,
                       grad: torch.Tensor) -> list[torch.Tensor]:
    """dL/dB_j of the blocks of small fused gates F = B_b ... B_1 (the recursion of
    :func:`adjoint_gate_grads` with each block written out as E_j = I (x) B_j (x) I).

    Args:
        part: (b, M, 4, 4) the gates' blocks in application order; local their first qubits.
        final: (M, m, m) the gates F; grad: (M, m, m) dL/dF.

    Returns:
        Per block (M, 4, 4) dL/dB_j.
    """
    grads: list[torch.Tensor] = [part[0]] * len(local)
    y = grad @ final.mH  # (M, m, m): Y = Lambda F^dagger
    for j in range(len(local) - 1, -1, -1):
        grads[j] = _region_trace(y, local[j], 2) @ part[j]  # tr_rest(Y_j) B_j
        if j:
            block = embed_gate(part[j], local[j], torch.empty_like(y))  # (M, m, m)
            y = block.mH @ (y @ block)  # Y_{j-1} = E_j^dagger Y_j E_j
    return grads


@functools.lru_cache(maxsize=256)
def _local_plan(local: tuple[int, ...]):
    gates = tuple(FusedGate(offset, 2, (j,)) for j, offset in enumerate(local))
    return gates, plan_stages(gates)


@functools.lru_cache(maxsize=256)
def _plan(qubits: tuple[int, ...], max_width: int):
    gates = fuse_blocks(qubits, max_width)
    return gates, plan_stages(gates)


def adjoint_gate_grads(mats: Sequence[torch.Tensor], gates: Sequence[FusedGate],
                       stages: Sequence[Sequence[int]], final: torch.Tensor,
                       grad_v: torch.Tensor) -> list[torch.Tensor]:
    """dL/dF_g for every fused gate of V = F_G ... F_1, given V and Lambda = dL/dV.

    Walks Y_g = Lambda_g V_g^dagger back from Y = Lambda V^dagger, stage by stage:
    dL/dF_g = tr_rest(Y_g) F_g with Y_g the matrix after gate g, and
    Y <- F^dagger Y F per gate. The held matrix X alternates between Y and Y^T: the left
    factor is a plain batched left application on X's rows; for the right factor X is
    transposed once per stage (gates of a stage act on disjoint qubits and share one
    transpose), after which it is again a left application. A lone gate on the least
    significant qubits needs no transpose: X (F on the last w column qubits) is one GEMM.

    Args:
        mats: per fused gate (N, 2^w, 2^w), unitary.
        gates, stages: from :mod:`qdsformer.quantum.fusion`.
        final: V (N, D, D).
        grad_v: Lambda (N, D, D), PyTorch's gradient convention for complex tensors.

    Returns:
        Per fused gate (N, 2^w, 2^w).
    """
    n, dim = final.shape[0], final.shape[-1]
    q = dim.bit_length() - 1
    kw = {"dtype": final.dtype, "device": final.device}
    adjoints = [m.mH.resolve_conj().contiguous() for m in mats]  # F^dagger
    transposes = [m.mT.contiguous() for m in mats]  # F^T
    conjugates = [m.conj().resolve_conj() for m in mats]  # F^*
    traces = [torch.empty_like(m) for m in mats]  # tr_rest(Y_g)
    slices = _chunk_slices(n, 2 * dim * dim * final.element_size(), final.device)
    buffers = torch.empty(2, slices[0].stop, dim, dim, **kw)  # ping-pong (2, c, D, D)
    for sl in slices:
        c = sl.stop - sl.start
        x, spare = buffers[0, :c], buffers[1, :c]  # (c, D, D) each
        torch.matmul(grad_v[sl], final[sl].mH, out=x)  # Y = Lambda V^dagger
        flipped = False  # x holds Y^T when True
        for stage in reversed(stages):
            for g in stage:
                t = _region_trace(x, gates[g].first, gates[g].width)  # (c, m, m)
                traces[g][sl] = t.mT if flipped else t
            if stage is stages[0]:  # Y before the first stage is never traced
                break
            first_side = transposes if flipped else adjoints
            second_side = adjoints if flipped else transposes
            lone = gates[stage[0]]
            if len(stage) == 1 and lone.first + lone.width == q:  # right factor is one GEMM
                g = stage[0]
                x, spare = apply_gate(first_side[g][sl], x, lone.first, out=spare), x
                right = (conjugates if flipped else mats)[g][sl]  # (c, m, m)
                view = x.view(c, -1, right.shape[-1])  # (c, D * 2^s, m)
                torch.matmul(view, right, out=spare.view(view.shape))
                x, spare = spare, x
                continue
            for g in stage:
                x, spare = apply_gate(first_side[g][sl], x, gates[g].first, out=spare), x
            spare.copy_(x.mT)
            x, spare = spare, x
            for g in stage:
                x, spare = apply_gate(second_side[g][sl], x, gates[g].first, out=spare), x
            flipped = not flipped
    # dL/dF_g = tr_rest(Lambda_g V_{g-1}^dagger) = tr_rest(Y_g F_g) = tr_rest(Y_g) F_g
    return [t @ m for t, m in zip(traces, mats)]


def _region_trace(state: torch.Tensor, first: int, width: int) -> torch.Tensor:
    """(N, D, D) -> (N, 2^w, 2^w): trace over every qubit outside first .. first + w - 1.

    One strided view (:func:`qdsformer.quantum.apply.gate_diagonal`) and a sum: no index
    tensor, no gather (the gather was 10% of the backward).
    """
    diagonal = gate_diagonal(state, first, width)  # (N, L, R, m, m)
    return diagonal.sum(1).sum(1)  # (N, m, m); one dim at a time: 2-3x faster than sum((1, 2))


#: Largest memory the (N, 2^q, 2^q) unitaries of one :func:`apply_blocks` call may take
#: (64 GiB); the simulation keeps V and a working copy of it, so it needs at least this twice.
MAX_UNITARY_BYTES = 64 * 2**30


def check_unitary_memory(n_circuits: int, n_qubits: int, itemsize: int) -> None:
    """Refuse a batch whose unitaries alone exceed :data:`MAX_UNITARY_BYTES`, with the estimate.

    Raises:
        ValueError: naming the batch, the qubits and the estimated memory.
    """
    need = n_circuits * 4**n_qubits * itemsize
    if need > MAX_UNITARY_BYTES:
        raise ValueError(
            f"simulating {n_circuits} circuit(s) of {n_qubits} qubits needs at least "
            f"{need / 2**30:,.1f} GiB for the (N, 2^q, 2^q) unitaries ({itemsize} bytes per "
            f"entry); the bound is {MAX_UNITARY_BYTES / 2**30:.0f} GiB "
            "(qdsformer.quantum.simulator.MAX_UNITARY_BYTES): use fewer qubits or a smaller batch")


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
    check_unitary_memory(flat.shape[0], n_qubits, 16 if params.dtype in (
        torch.float64, torch.complex128) else 8)
    dim = 1 << n_qubits
    if flat.shape[0] == 0:  # an empty batch: an empty V, attached to the graph (zero gradient)
        blocks = make_blocks(flat)  # (0, K, 4, 4)
        return (blocks.new_zeros(*lead, dim, dim) + blocks.sum() * 0)
    return _AdjointCircuit.apply(flat, make_blocks, qubits, n_qubits).reshape(*lead, dim, dim)


def simulation_flops(qubits: Sequence[int], n_qubits: int, n_circuits: int = 1) -> dict[str, int]:
    """Real flops of the matrix products our simulator runs, for ``n_circuits`` circuits.

    A complex multiply-add is 8 real flops, so applying a 2^w x 2^w gate to a D x D matrix is
    8 * 2^w * D^2. ``forward`` counts the fused gates actually applied, ``forward_blocks``
    the same circuit applied block by block (4x4, the arithmetic of the circuit itself);
    ``backward`` counts two applications per fused gate of the backward's own fusion plan
    (``fusion_width(q, backward=True)``; left and right factor) outside the first stage (Y is
    not walked past it) plus the D x D x D product Y = Lambda V^dagger, not the transposes
    or partial traces (memory traffic, no arithmetic).

    Returns:
        dict with ``forward``, ``forward_blocks`` and ``backward`` (ints).
    """
    qubits = tuple(int(k) for k in qubits)
    gates, _ = _plan(qubits, fusion_width(n_qubits))
    dim2 = 1 << (2 * n_qubits)
    forward = sum(8 * (1 << g.width) * dim2 for g in gates) * n_circuits
    back_gates, stages = _plan(qubits, fusion_width(n_qubits, backward=True))
    walked = sum(8 * (1 << back_gates[g].width) * dim2
                 for stage in stages[1:] for g in stage) * n_circuits
    return {"forward": forward,
            "forward_blocks": 8 * 4 * dim2 * len(qubits) * n_circuits,
            "backward": 2 * walked + 8 * (1 << (3 * n_qubits)) * n_circuits}
