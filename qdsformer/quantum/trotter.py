"""The ``trotter`` ansatz: one second-order (Strang) Trotter step per layer.

The QDSFormer paper (Born et al. 2025, Table A1) names a "Trotter" ansatz without its gates;
this is our reconstruction. Each layer l approximates exp(-i H_l) for the parametrised
nearest-neighbour Hamiltonian on the chain of q qubits

    H_l = 1/2 sum_k (Jx_k X_k X_{k+1} + Jy_k Y_k Y_{k+1} + Jz_k Z_k Z_{k+1})     (bonds k, k+1)
        + 1/2 sum_k (hx_k X_k + hy_k Y_k + hz_k Z_k)                           (sites k)

(the factor 1/2 makes every parameter a full-step gate angle: exp(-i Jx XX / 2) = RXX(Jx)).
Split H = F + E + O into the fields F, the even bonds E = sum over (0,1), (2,3), ... and the
odd bonds O = sum over (1,2), (3,4), ...; within each part the terms commute (XX, YY and ZZ
on one bond commute; different sites / disjoint bonds commute), so each part's exponential
is a product of native gates. One layer is the palindromic (Strang) product

    S = e^{-i Fx/2} e^{-i Fy/2} e^{-i Fz/2} e^{-i E/2} e^{-i O} e^{-i E/2} e^{-i Fz/2} e^{-i Fy/2} e^{-i Fx/2}

(rightmost first; F split further into its X, Y, Z parts). Every part's coefficients sum to
one and the product is symmetric (S(theta) S(-theta) = I), so S = exp(-i H) + O(|theta|^3):
halving all angles of a layer divides its error by about 8 (tested against
``scipy.linalg.expm`` of H).

The X fields are outermost on purpose: P, block sums of |V|^2, cannot see diagonal gates at
either end of the circuit (|D V D'| = |V| entry by entry), so with the Z fields outermost hz
would not change the P of a one-layer circuit at all (and P had the hidden tie
P[i, j] = P[n-1-j, n-1-i]); tested: every parameter moves P when there are no auxiliary
qubits. (Rotations of auxiliary qubits alone at either end are invisible to the block-sum
readout for every ansatz; and the last X half step of layer l meets the first of layer
l + 1, so those two angles act only through their sum, a redundancy of any per-layer
Trotter parametrisation.)

Gates, angle = coefficient x parameter: the half steps (fields and even bonds) are
``rx ry rz`` (coefficient 1/2) on each site and ``rxx ryy rzz`` (1/2) on each even bond; the
odd bonds ``rxx ryy rzz`` with coefficient 1. Each parameter feeds two gates (its two half
steps) except the odd bonds' couplings; the coefficients travel with the gates into the
Qiskit / PennyLane export and the parameter-shift rule (qdsformer.hardware.shift).

Parameter sharing: within a layer every bond has its own couplings (Jx, Jy, Jz) and every
site its own fields (hx, hy, hz), shared by the two half steps of that layer (that is what
makes it a Trotter step of one H); layers are independent (layer l is a step of its own
H_l; equal parameters in all L layers give L steps of one H). Layout: layer l owns the
6q - 3 parameters from ``l (6q - 3)``: first bond k's (Jx, Jy, Jz) at offsets 3k, 3k+1,
3k+2 (k = 0..q-2), then site k's (hx, hy, hz) at 3(q-1) + 3k, +1, +2 (k = 0..q-1). All zero
gives the identity.

Why all three field directions (the brief names X and Z fields): with only X and Z fields
every generator is a real symmetric matrix, so exp(-i H) and the palindromic S are complex
symmetric (S^T = S) and one layer would always give a symmetric P (P = P^T), a hidden
constraint on the attention. A Y field (antisymmetric generator) breaks it.

Blocks (the simulator's unit is a two-qubit block): one block per even bond with the two
sites' half-step fields then the bond's half step, its mirror image after the odd bonds,
and for odd q the last site's fields on the block (q-2, q-1) acting on its second wire
only. Hardware: the simple-style Bell-pair layout (``pre`` empty).
"""

from __future__ import annotations

from qdsformer.quantum.ansatz import Ansatz, Block, register_ansatz
from qdsformer.quantum.blocks import BlockKind, GateTemplate

__all__ = ["TrotterAnsatz"]

_HALF = 0.5


def _fields(wire: int, first_slot: int) -> list[GateTemplate]:
    """Half-step fields on one wire: rx(hx/2), ry(hy/2), rz(hz/2), slots (hx, hy, hz)."""
    return [GateTemplate(name, (wire,), first_slot + i, _HALF)
            for i, name in enumerate(("rx", "ry", "rz"))]


def _bond(coeff: float) -> list[GateTemplate]:
    """Bond step rxx(c Jx), ryy(c Jy), rzz(c Jz), slots (Jx, Jy, Jz) = 0, 1, 2."""
    return [GateTemplate(name, (0, 1), slot, coeff)
            for slot, name in enumerate(("rxx", "ryy", "rzz"))]


# slots: 0-2 bond (Jx, Jy, Jz), 3-5 first site (hx, hy, hz), 6-8 second site (hx, hy, hz)
_PAIR_IN_GATES = [*_fields(0, 3), *_fields(1, 6), *_bond(_HALF)]
#: even bond, first half step: fields/2 on both sites, then the bond/2.
PAIR_IN = BlockKind("trotter_pair_in", tuple(_PAIR_IN_GATES))
#: even bond, second half step: the mirror image of PAIR_IN.
PAIR_OUT = BlockKind("trotter_pair_out", tuple(reversed(_PAIR_IN_GATES)))
#: odd bond, full step.
BOND = BlockKind("trotter_bond", tuple(_bond(1.0)))
#: the last site of an odd chain (second wire of its block), first half step; slots (hx, hy, hz).
SITE_IN = BlockKind("trotter_site_in", tuple(_fields(1, 0)))
#: its mirror image.
SITE_OUT = BlockKind("trotter_site_out", tuple(reversed(_fields(1, 0))))


@register_ansatz("trotter")
class TrotterAnsatz(Ansatz):
    """One Strang Trotter step of a nearest-neighbour XYZ chain with fields per layer.

    ``n_params = (6q - 3) n_layers`` (layout in the module docstring); V = identity at zero
    angles; one layer = exp(-i H) + O(|theta|^3).
    """

    def params_per_layer(self) -> int:
        """6q - 3: three couplings per bond, three fields per site."""
        return 6 * self.n_qubits - 3

    def _layout(self) -> tuple[list[Block], int]:
        q, blocks = self.n_qubits, []
        for layer in range(self.n_layers):
            base = layer * self.params_per_layer()

            def bond(k: int, base: int = base) -> tuple[int, ...]:
                return tuple(base + 3 * k + i for i in range(3))

            def site(k: int, base: int = base) -> tuple[int, ...]:
                return tuple(base + 3 * (q - 1) + 3 * k + i for i in range(3))

            evens = range(0, q - 1, 2)
            lone = q % 2 == 1  # the last site has no even bond
            blocks += [Block(k, bond(k) + site(k) + site(k + 1), kind=PAIR_IN) for k in evens]
            if lone:
                blocks.append(Block(q - 2, site(q - 1), kind=SITE_IN))
            blocks += [Block(k, bond(k), kind=BOND) for k in range(1, q - 1, 2)]
            if lone:
                blocks.append(Block(q - 2, site(q - 1), kind=SITE_OUT))
            blocks += [Block(k, bond(k) + site(k) + site(k + 1), kind=PAIR_OUT) for k in evens]
        return blocks, 0
