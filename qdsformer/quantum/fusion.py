"""Gate fusion for the batched simulator: blocks -> wider gates -> stages of disjoint gates.

A circuit of two-qubit blocks on adjacent qubits (block k on ``(qubits[k], qubits[k] + 1)``)
is regrouped into *fused gates*, each a product of consecutive-in-dependency blocks acting on
at most ``max_width`` adjacent qubits, and the fused gates into *stages*, runs of consecutive
fused gates on disjoint qubits (so they commute and see the same state).

Why: one batched application of a 2^w x 2^w gate to a 2^q x 2^q matrix costs 8 * 2^w * 4^q
real flops, and on a CPU core a 16x16 application runs at about 2.5x the GFLOP/s of a 4x4
one (a 4x4 matmul is too thin to keep the vector units busy). Fusing three blocks into one
16x16 gate does 4/3 of the arithmetic at 2.5x the rate. The adjoint backward needs one
transpose per stage (see :mod:`qdsformer.quantum.simulator`), so fewer, wider stages help
it too.

Greedy rule (exact, not a heuristic on the result): block k joins the *last* fused gate
that touches one of its qubits when the union still spans at most ``max_width`` qubits;
every fused gate after that one is disjoint from the block, so moving the block earlier
past them changes nothing (gates on disjoint qubits commute). Otherwise it opens a new gate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from qdsformer.quantum.apply import apply_gate, embed_gate

__all__ = ["FusedGate", "block_index", "fuse_blocks", "fused_matrices", "gate_groups", "group_blocks",
           "plan_stages"]


@dataclass(frozen=True)
class FusedGate:
    """A product of blocks on qubits ``first .. first + width - 1``.

    Attributes:
        first: the most significant qubit the gate acts on.
        width: number of adjacent qubits w (gate size 2^w).
        blocks: indices of the blocks, in application order.
    """

    first: int
    width: int
    blocks: tuple[int, ...]

    @property
    def qubits(self) -> range:
        return range(self.first, self.first + self.width)


def fuse_blocks(qubits: tuple[int, ...], max_width: int) -> tuple[FusedGate, ...]:
    """Group blocks on ``(qubits[k], qubits[k] + 1)`` into fused gates of <= ``max_width`` qubits.

    Args:
        qubits: first qubit of each block, in application order.
        max_width: widest fused gate, >= 2 (2 = no fusion: one gate per block).

    Returns:
        Fused gates in application order; their product equals the blocks' product.
    """
    if max_width < 2:
        raise ValueError(f"max_width must be >= 2 (a block spans two qubits), got {max_width}")
    groups: list[list] = []  # [first, last, [block indices]]
    for k, q in enumerate(qubits):
        target = None
        for g in reversed(groups):
            if g[0] <= q + 1 and q <= g[1]:  # touches q or q + 1
                target = g
                break
        if target is not None:
            lo, hi = min(target[0], q), max(target[1], q + 1)
            if hi - lo + 1 <= max_width:
                target[0], target[1] = lo, hi
                target[2].append(k)
                continue
        groups.append([q, q + 1, [k]])
    return tuple(FusedGate(lo, hi - lo + 1, tuple(ks)) for lo, hi, ks in groups)


def plan_stages(gates: tuple[FusedGate, ...]) -> tuple[tuple[int, ...], ...]:
    """Split the fused gates into runs of consecutive gates on pairwise disjoint qubits.

    Returns:
        Tuples of gate indices, in application order; gates within a stage commute.
    """
    stages: list[list[int]] = []
    used: set[int] = set()
    for i, gate in enumerate(gates):
        if stages and used.isdisjoint(gate.qubits):
            stages[-1].append(i)
            used.update(gate.qubits)
        else:
            stages.append([i])
            used = set(gate.qubits)
    return tuple(tuple(s) for s in stages)


@functools.lru_cache(maxsize=256)
def gate_groups(qubits: tuple[int, ...], gates: tuple[FusedGate, ...]
                ) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Fused gates with the same shape: same width and same block layout inside the gate.

    Returns:
        (local, members) pairs: ``local`` the blocks' first qubits relative to the gate's
        ``first`` (its width is ``max(local) + 2`` or more, see ``gates[members[0]]``),
        ``members`` the indices of the gates with that layout. Gates of one group are built
        (and differentiated) as one batch.
    """
    groups: dict[tuple, list[int]] = {}
    for i, gate in enumerate(gates):
        key = (gate.width, tuple(qubits[k] - gate.first for k in gate.blocks))
        groups.setdefault(key, []).append(i)
    return tuple((key[1], tuple(members)) for key, members in groups.items())


def fused_matrices(blocks: torch.Tensor, qubits: tuple[int, ...],
                   gates: tuple[FusedGate, ...]) -> list[torch.Tensor]:
    """The fused gates' matrices from the blocks.

    Gates with the same layout (:func:`gate_groups`) are built together: the group's blocks
    are applied one by one to a batch of 2^w x 2^w identities with the simulator's kernel
    (a 4x4 application costs 4 m^2 multiply-adds, a 2^w x 2^w product m^3); the first is
    written into place (:func:`qdsformer.quantum.apply.embed_gate`), not multiplied.

    Args:
        blocks: (N, K, 4, 4) complex block unitaries.
        qubits: first qubit of each block.
        gates: from :func:`fuse_blocks`.

    Returns:
        One (N, 2^w, 2^w) tensor per fused gate (a block itself when the gate is one block).
    """
    out: list[torch.Tensor | None] = [None] * len(gates)
    for local, members in gate_groups(qubits, gates):
        if len(local) == 1 and gates[members[0]].width == 2:
            for i in members:
                out[i] = blocks[:, gates[i].blocks[0]]  # (N, 4, 4)
            continue
        group = _build_group(blocks, local, [gates[i] for i in members])  # (N, G', m, m)
        for c, i in enumerate(members):
            out[i] = group[:, c]
    return out


@functools.lru_cache(maxsize=1024)
def block_index(members: tuple[FusedGate, ...], device: torch.device) -> torch.Tensor:
    """(G', b) indices of the blocks of gates with one layout, made once per plan and device
    (a host-to-device copy per call otherwise)."""
    return torch.tensor([g.blocks for g in members], device=device)


def group_blocks(blocks: torch.Tensor, members: list[FusedGate]) -> torch.Tensor:
    """The blocks of gates with one layout, (N, K, 4, 4) -> (b, N * G', 4, 4) (b blocks each)."""
    index = block_index(tuple(members), blocks.device)  # (G', b)
    part = blocks[:, index]  # (N, G', b, 4, 4)
    return part.permute(2, 0, 1, 3, 4).reshape(index.shape[1], -1, 4, 4)  # (b, N * G', 4, 4)


#: Largest fused gate (m x m) built as a chain of m x m products of embedded blocks rather
#: than by 4x4 applications: an (N, 8, 8) or (N, 16, 16) batched product beats the thin
#: (N * 2^k, 4, 4) @ (4, R) ones it replaces despite 2-4x the arithmetic (1.3-1.6x faster
#: builds on one core); at 32 x 32 (8x the arithmetic) the applications win by 4x.
CHAIN_MAX_SIZE = 16


def _build_group(blocks: torch.Tensor, local: tuple[int, ...],
                 members: list[FusedGate]) -> torch.Tensor:
    n, size = blocks.shape[0], 1 << members[0].width
    part = group_blocks(blocks, members)  # (b, N * G', 4, 4)
    if size <= CHAIN_MAX_SIZE:  # every block written as I (x) B (x) I, then m x m products
        embedded = part.new_empty(len(local), part.shape[1], size, size)  # (b, N * G', m, m)
        for i, (block, offset) in enumerate(zip(part, local)):
            embed_gate(block, offset, embedded[i])
        state = embedded[0]
        for later in embedded[1:]:
            state = torch.bmm(later, state)  # (N * G', m, m)
        return state.view(n, len(members), size, size)
    state = part.new_empty(part.shape[1], size, size)  # (N * G', m, m)
    embed_gate(part[0], local[0], state)  # the first block on the identity: I (x) B (x) I
    for block, offset in zip(part[1:], local[1:]):
        state = apply_gate(block, state, offset)  # (N * G', m, m)
    return state.view(n, len(members), size, size)  # (N, G', m, m)
