"""Variational ansaetze for the QontOT attention circuit, and their Qiskit / PennyLane export.

Every ansatz here is a sequence of two-qubit *blocks* on adjacent qubits ``(k, k + 1)``:

    B(a, b, c, d) = RYY(d) . RXX(c) . (RY(a) (x) RX(b)),

    RY(a) = exp(-i a Y / 2),  RX(b) = exp(-i b X / 2),
    RXX(c) = exp(-i c X(x)X / 2),  RYY(d) = exp(-i d Y(x)Y / 2),

four parameters per block, B(0, 0, 0, 0) = I. RXX and RYY commute and are symmetric, RY^T =
RY(-a) and RX^T = RX(b), so B^T = RXX(c) RYY(d) (RY(-a) (x) RX(b)) read right to left, i.e.
the gate sequence RYY(d), RXX(c), RY(-a), RX(b): a transposed block is again made of native
gates. Qiskit (``ry``, ``rx``, ``rxx``, ``ryy``) and PennyLane (``RY``, ``RX``, ``IsingXX``,
``IsingYY``) name all four.

Why these gates: the readout P must not inherit a symmetry of the gate set. With blocks
RZZ.RXX.(RY (x) RY) every gate commutes with Y(x)...(x)Y, which made every P centrosymmetric
(P[i, j] = P[n-1-i, n-1-j]) and every 4x4 P symmetric; with RZZ.RXX.(RY (x) RX) every
two-qubit generator is odd under the antiunitary Y_1 K (K = complex conjugation), which tied
P[i^1, j^1] = P[i, j] for 4x4 matrices. Y(x)Y is even under both and breaks them;
``tests/quantum/test_ansatz.py`` checks that no bit-flip or transpose relation holds.

Ansaetze (the QDSFormer paper, Born et al. 2025, names them but did not publish the gates;
this is our construction):

- ``simple``: a brick wall. One layer = blocks on (0,1), (2,3), ... then on (1,2), (3,4), ...,
  so ``q - 1`` blocks and ``4 (q - 1)`` parameters per layer; identity at zero angles.
- ``parted``: the hardware layout of the same family. Its first ``ceil(L / 2)`` layers form a
  brick wall W1 that runs, transposed, on the purification register of the Bell-pair readout
  (``(V (x) I)|Phi+> = (I (x) V^T)|Phi+>``), the remaining layers a brick wall W2 on the
  system: ``unitary = W2 . W1^T``, half the depth on hardware.

Qubit order: qubit 0 is the most significant bit of our basis index (data qubits first,
then auxiliary qubits), as in PennyLane (wire k = our qubit k). Qiskit is little-endian, so
:meth:`Ansatz.to_qiskit` puts our qubit k on Qiskit qubit ``q - 1 - k``; with that,
``qiskit.quantum_info.Operator(ansatz.to_qiskit(a)).data == ansatz.unitary(a)`` entry by entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch

from qdsformer.common.registry import Registry
from qdsformer.quantum.simulator import apply_blocks

__all__ = [
    "Ansatz",
    "Block",
    "Gate",
    "block_matrices",
    "get_ansatz",
    "list_ansaetze",
    "register_ansatz",
]


@dataclass(frozen=True)
class Block:
    """One block B(a, b, c, d) on qubits (qubit, qubit + 1).

    Attributes:
        qubit: the first (more significant) of the two adjacent qubits.
        params: indices of (a, b, c, d) in the ansatz's angle vector.
        transposed: the block acts as B^T (the parted ansatz's purification half).
    """

    qubit: int
    params: tuple[int, int, int, int]
    transposed: bool = False


@dataclass(frozen=True)
class Gate:
    """One native gate for export: ``name`` in {"ry", "rx", "rxx", "ryy"}, angle sign * angles[param]."""

    name: str
    qubits: tuple[int, ...]
    param: int
    sign: float = 1.0


def block_matrices(theta: torch.Tensor, transposed: torch.Tensor | None = None) -> torch.Tensor:
    """The 4x4 block unitaries B(a, b, c, d) = RYY(d) RXX(c) (RY(a) (x) RX(b)).

    Args:
        theta: (..., 4) real angles (a, b, c, d).
        transposed: optional bool (...,) or broadcastable mask; where True, B^T is returned.

    Returns:
        (..., 4, 4) complex64 (complex128 for float64 angles), differentiable in ``theta``.
        Row/column index = 2 * bit(first qubit) + bit(second qubit).
    """
    if theta.shape[-1] != 4:
        raise ValueError(f"block angles need a last dimension of 4, got shape {tuple(theta.shape)}")
    a, b, c, d = theta.unbind(-1)  # each (...)
    ca, sa, cb, sb = torch.cos(a / 2), torch.sin(a / 2), torch.cos(b / 2), torch.sin(b / 2)
    zero = torch.zeros_like(cb)
    ry_a = torch.stack([torch.stack([ca, -sa], -1), torch.stack([sa, ca], -1)], -2)  # (..., 2, 2)
    # RX(b) = cos(b/2) I - i sin(b/2) X: real part diag(cb, cb), imaginary part -sb off-diagonal
    rx_b = torch.complex(
        torch.stack([torch.stack([cb, zero], -1), torch.stack([zero, cb], -1)], -2),
        torch.stack([torch.stack([zero, -sb], -1), torch.stack([-sb, zero], -1)], -2),
    )  # (..., 2, 2)
    kron = ry_a[..., :, None, :, None].to(rx_b.dtype) * rx_b[..., None, :, None, :]
    kron = kron.reshape(*theta.shape[:-1], 4, 4)  # (..., 4, 4) complex
    # RXX(c) = cos(c/2) I - i sin(c/2) X(x)X; X(x)X reverses the row order.
    cos_c = torch.cos(c / 2)[..., None, None]
    sin_c = torch.sin(c / 2)[..., None, None]
    mixed = cos_c * kron - 1j * sin_c * kron.flip(-2)  # (..., 4, 4)
    # RYY(d) = cos(d/2) I - i sin(d/2) Y(x)Y; Y(x)Y reverses the row order with signs (-1, 1, 1, -1).
    cos_d = torch.cos(d / 2)[..., None, None]
    sin_d = torch.sin(d / 2)[..., None, None]
    signs = torch.tensor([-1.0, 1.0, 1.0, -1.0], dtype=cos_d.dtype, device=theta.device)[:, None]
    block = cos_d * mixed - 1j * sin_d * (signs * mixed.flip(-2))  # (..., 4, 4)
    if transposed is not None:
        block = torch.where(transposed[..., None, None], block.transpose(-1, -2), block)
    return block


class Ansatz:
    """A fixed sequence of :class:`Block` s on ``n_qubits`` qubits with ``n_params`` angles.

    Subclasses only lay out the blocks; simulation and export are shared. See the module
    docstring for the block, the qubit order and the Qiskit mapping.

    Attributes:
        name: registry name.
        n_qubits: q.
        n_layers: circuit layers.
        n_params: length of the angle vector.
        blocks: the blocks in application order (first applied first).
        n_pre_blocks: how many leading blocks belong to the hardware "pre" part that runs,
            transposed, on the purification register (0 for ``simple``).
    """

    name: str = ""

    def __init__(self, n_qubits: int, n_layers: int) -> None:
        if not isinstance(n_qubits, int) or n_qubits < 2:
            raise ValueError(f"ansatz {self.name!r}: n_qubits must be an int >= 2, got {n_qubits!r}")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"ansatz {self.name!r}: n_layers must be an int >= 1, got {n_layers!r}")
        self.n_qubits = n_qubits
        self.n_layers = n_layers
        self.blocks, self.n_pre_blocks = self._layout()
        self.n_params = 4 * len(self.blocks)
        self._param_index = torch.tensor([blk.params for blk in self.blocks])  # (K, 4)
        self._transposed = torch.tensor([blk.transposed for blk in self.blocks])  # (K,)
        self._block_qubits = tuple(blk.qubit for blk in self.blocks)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
                f"n_params={self.n_params})")

    # ----------------------------------------------------------------- layout
    def _brick_wall(self, n_layers: int, first_param: int) -> list[Block]:
        """``n_layers`` brick-wall layers, parameters numbered from ``first_param``."""
        q, blocks, p = self.n_qubits, [], first_param
        for _ in range(n_layers):
            for start in (0, 1):
                for k in range(start, q - 1, 2):
                    blocks.append(Block(k, (p, p + 1, p + 2, p + 3)))
                    p += 4
        return blocks

    def _layout(self) -> tuple[list[Block], int]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------- simulation
    def _check_angles(self, angles: torch.Tensor) -> None:
        if not torch.is_tensor(angles) or angles.is_complex() or not angles.is_floating_point():
            kind = angles.dtype if torch.is_tensor(angles) else type(angles).__name__
            raise ValueError(f"{self!r}: angles must be a real floating tensor, got {kind}")
        if angles.dim() < 1 or angles.shape[-1] != self.n_params:
            raise ValueError(f"{self!r}: angles must have shape (..., {self.n_params}), "
                             f"got {tuple(angles.shape)}")

    def _block_angles(self, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """angles (..., n_params) -> each block's (a, b, c, d) (..., K, 4) and transposed (K,)."""
        self._check_angles(angles)
        theta = angles[..., self._param_index.to(angles.device)]  # (..., K, 4)
        return theta, self._transposed.to(angles.device)

    def block_unitaries(self, angles: torch.Tensor) -> torch.Tensor:
        """angles (..., n_params) -> the blocks' 4x4 unitaries (..., K, 4, 4), in order."""
        theta, transposed = self._block_angles(angles)
        return block_matrices(theta, transposed)  # (..., K, 4, 4)

    def unitary(self, angles: torch.Tensor) -> torch.Tensor:
        """The circuit unitary V for each angle vector.

        Args:
            angles: (..., n_params) real; float32 gives complex64, float64 complex128.

        Returns:
            V (..., 2^q, 2^q), V = B_K ... B_1, our qubit order (qubit 0 most significant).
            Differentiable through the adjoint-method simulator: backward memory does not
            grow with the number of layers.
        """
        theta, transposed = self._block_angles(angles)  # (..., K, 4), (K,)
        return apply_blocks(theta, self._block_qubits, self.n_qubits,
                            make_blocks=partial(block_matrices, transposed=transposed),
                            param_ndim=1)  # (..., D, D)

    # ----------------------------------------------------------------- export
    def gates(self, blocks: Sequence[Block] | None = None) -> list[Gate]:
        """Native gates of ``blocks`` (default: all) in application order."""
        out: list[Gate] = []
        for blk in self.blocks if blocks is None else blocks:
            a, b, c, d = blk.params
            k, pair = blk.qubit, (blk.qubit, blk.qubit + 1)
            if blk.transposed:
                out += [Gate("ryy", pair, d), Gate("rxx", pair, c),
                        Gate("ry", (k,), a, -1.0), Gate("rx", (k + 1,), b)]
            else:
                out += [Gate("ry", (k,), a), Gate("rx", (k + 1,), b),
                        Gate("rxx", pair, c), Gate("ryy", pair, d)]
        return out

    def _angle_list(self, angles) -> list:
        """Angles for export: ``None`` -> a Qiskit ParameterVector, else a flat float list."""
        if torch.is_tensor(angles):
            angles = angles.detach().cpu().double().reshape(-1).tolist()
        angles = list(angles)
        if len(angles) != self.n_params:
            raise ValueError(f"{self!r}: expected {self.n_params} angles, got {len(angles)}")
        return angles

    def to_qiskit(self, angles=None, blocks: Sequence[Block] | None = None):
        """A Qiskit ``QuantumCircuit`` on q qubits for one angle vector.

        Args:
            angles: (n_params,) tensor or sequence of floats; ``None`` gives a parameterised
                circuit over ``ParameterVector("theta", n_params)`` (bind with
                ``assign_parameters``).
            blocks: subset of ``self.blocks`` to export (default: all).

        Our qubit k sits on Qiskit qubit ``q - 1 - k``, so ``Operator(circuit).data`` equals
        :meth:`unitary` (little-endian Qiskit index == our big-endian index).
        """
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector

        q = self.n_qubits
        values = (ParameterVector("theta", self.n_params) if angles is None
                  else self._angle_list(angles))
        circuit = QuantumCircuit(q, name=f"{self.name}_q{q}_L{self.n_layers}")
        for gate in self.gates(blocks):
            wires = [q - 1 - k for k in gate.qubits]
            value = gate.sign * values[gate.param]
            getattr(circuit, gate.name)(value, *wires)
        return circuit

    def hardware_parts(self, angles=None):
        """The two Qiskit circuits of the Bell-pair readout: ``(pre, post)``.

        ``unitary(angles) == Operator(post).data @ Operator(pre).data.T``: ``post`` runs on the
        system register (D, A) and ``pre`` on the purification register (D', A'), since
        ``(V (x) I)|Phi+> = (I (x) V^T)|Phi+>``. For ``simple`` ``pre`` is empty; for
        ``parted`` it is the first half of the layers, so each register sees half the depth.
        Same qubit mapping and ``angles`` convention as :meth:`to_qiskit`.
        """
        pre = [Block(b.qubit, b.params) for b in self.blocks[: self.n_pre_blocks][::-1]]
        post = list(self.blocks[self.n_pre_blocks:])
        return self.to_qiskit(angles, pre), self.to_qiskit(angles, post)

    def to_pennylane(self, angles, wires: Sequence | None = None) -> list:
        """PennyLane operations (``RY``, ``RX``, ``IsingXX``, ``IsingYY``) for the circuit.

        Args:
            angles: (n_params,) or (batch, n_params) tensor / array (any PennyLane interface;
                a leading batch dimension uses parameter broadcasting).
            wires: labels for our qubits 0..q-1 (default ``range(q)``, same order as ours:
                wire 0 is the most significant).

        Returns:
            The operations in application order. Called inside a QNode or quantum function
            they are queued as they are created (do not ``qml.apply`` them again); called
            outside, they can go to ``qml.matrix`` or a tape.
        """
        import pennylane as qml

        wires = list(range(self.n_qubits)) if wires is None else list(wires)
        if len(wires) != self.n_qubits:
            raise ValueError(f"{self!r}: need {self.n_qubits} wires, got {len(wires)}")
        if angles.shape[-1] != self.n_params:
            raise ValueError(f"{self!r}: angles must have shape (..., {self.n_params}), "
                             f"got {tuple(angles.shape)}")
        kinds = {"ry": qml.RY, "rx": qml.RX, "rxx": qml.IsingXX, "ryy": qml.IsingYY}
        return [kinds[g.name](g.sign * angles[..., g.param], wires=[wires[k] for k in g.qubits])
                for g in self.gates()]


#: Ansatz classes by name; each registered class gets its name as ``name``.
ANSAETZE: Registry[type[Ansatz]] = Registry("ansatz", name_attribute="name")

#: ``@register_ansatz("name")``: class decorator adding an :class:`Ansatz` subclass.
register_ansatz = ANSAETZE.register
#: Names of the registered ansaetze, sorted.
list_ansaetze = ANSAETZE.names


def get_ansatz(name: str, n_qubits: int, n_layers: int) -> Ansatz:
    """Build the ansatz registered as ``name`` on ``n_qubits`` qubits with ``n_layers`` layers.

    Raises:
        ValueError: unknown ``name`` (the message lists the known ones) or bad sizes.
    """
    return ANSAETZE.get(name)(n_qubits, n_layers)


@register_ansatz("simple")
class SimpleAnsatz(Ansatz):
    """Brick wall of blocks B(a, b, c, d): per layer (0,1), (2,3), ... then (1,2), (3,4), ...

    ``n_params = 4 (q - 1) n_layers``; V = identity at zero angles.
    """

    def _layout(self) -> tuple[list[Block], int]:
        return self._brick_wall(self.n_layers, 0), 0


@register_ansatz("parted")
class PartedAnsatz(Ansatz):
    """The simple family split for hardware: V = W2 . W1^T.

    W1 = brick wall of the first ``ceil(L / 2)`` layers (parameters first), W2 = brick wall
    of the remaining ``floor(L / 2)`` layers. W1^T is applied as W1's blocks in reverse
    order, each transposed, so in simulation this is again a product of blocks of the simple
    family; on hardware W1 runs on the purification register (see :meth:`hardware_parts`).
    """

    def _layout(self) -> tuple[list[Block], int]:
        n_pre = math.ceil(self.n_layers / 2)
        pre = self._brick_wall(n_pre, 0)
        post = self._brick_wall(self.n_layers - n_pre, 4 * len(pre))
        pre_t = [Block(b.qubit, b.params, transposed=True) for b in reversed(pre)]
        return pre_t + post, len(pre_t)
