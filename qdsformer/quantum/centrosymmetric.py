"""The ``centrosymmetric`` ansatz: every readout P is centrosymmetric by construction.

The QDSFormer paper (Born et al. 2025, Table A1) names a "Centrosymmetric" ansatz without its
gates; this is our reconstruction. A matrix is centrosymmetric when
P[i, j] = P[n-1-i, n-1-j]. With data qubits most significant, n-1-i is i with every bit
flipped, i.e. the action of X on every data qubit. So if the circuit V commutes with
X^{(x)q} (X on every qubit, data and auxiliary),

    V[(i, a), (j, b)] = V[(~i, ~a), (~j, ~b)]   (~ = flip every bit),

and the block-sum readout P[i, j] = (1/m) sum_{a, b} |V[(i, a), (j, b)]|^2 inherits it: the
sum over a, b is the same sum as over ~a, ~b. This holds for any number of auxiliary
qubits and any angles, i.e. for every P the attention layer produces (for T a power of two;
the padding completion of other T keeps only a corner, which is not centrosymmetric).

Gate choice: a brick wall (the ``simple`` layout) of blocks

    C(a, b, c, d, e) = RZZ(e) . RYY(d) . RXX(c) . (RX(a) (x) RX(b)),

five parameters per block, C(0, ..., 0) = I. Every generator commutes with X (x) X: X on one
qubit trivially, and X(x)X, Y(x)Y, Z(x)Z because Y and Z each anticommute with X, so the two
sign flips cancel. Single-qubit Y or Z rotations (which would anticommute with X) are left
out on purpose. RX and RXX alone commute with each other (an abelian, nearly trivial
family); RYY and RZZ make the local RX rotations and the couplings non-commuting, so the
circuit mixes all states of equal X-parity. All five gates are native in Qiskit (``rx``,
``rxx``, ``ryy``, ``rzz``) and PennyLane (``RX``, ``IsingXX``, ``IsingYY``, ``IsingZZ``).

Tests (``tests/quantum/test_new_ansaetze.py``) check the centrosymmetry of P on random angles
for several q and q_d, that ``simple`` does not have it, and that no other bit-flip or
transpose relation holds.

Hardware: the simple-style Bell-pair layout (everything on the system register, ``pre``
empty).
"""

from __future__ import annotations

from qdsformer.quantum.ansatz import Ansatz, Block, register_ansatz
from qdsformer.quantum.blocks import BlockKind, GateTemplate

__all__ = ["XSYMMETRIC", "CentrosymmetricAnsatz"]

#: C(a, b, c, d, e) = RZZ(e) RYY(d) RXX(c) (RX(a) (x) RX(b)): commutes with X (x) X.
XSYMMETRIC = BlockKind("xsymmetric", (
    GateTemplate("rx", (0,), 0), GateTemplate("rx", (1,), 1), GateTemplate("rxx", (0, 1), 2),
    GateTemplate("ryy", (0, 1), 3), GateTemplate("rzz", (0, 1), 4)))


@register_ansatz("centrosymmetric")
class CentrosymmetricAnsatz(Ansatz):
    """Brick wall of X-parity preserving blocks C(a, b, c, d, e); P is centrosymmetric.

    Per layer blocks on (0,1), (2,3), ... then (1,2), (3,4), ... as in ``simple``;
    ``n_params = 5 (q - 1) n_layers``; V = identity at zero angles; V commutes with
    X on every qubit for all angles (see the module docstring).
    """

    def _layout(self) -> tuple[list[Block], int]:
        return self._brick_wall(self.n_layers, 0, XSYMMETRIC), 0
