"""Variational ansaetze for the QontOT attention circuit, and their Qiskit / PennyLane export.

Every ansatz is a sequence of two-qubit *blocks* on adjacent qubits ``(k, k + 1)``; each block
has a *kind* (:class:`qdsformer.quantum.blocks.BlockKind`): its native gates, each one angle
parameter times a fixed coefficient. This module lays out blocks, simulates them (all kinds
through the one adjoint simulator) and exports them; ``centrosymmetric`` and ``trotter`` live
in :mod:`qdsformer.quantum.centrosymmetric` and :mod:`qdsformer.quantum.trotter`.

The ``simple`` / ``parted`` block kind (:data:`qdsformer.quantum.blocks.BRICK`):

    B(a, b, c, d) = RYY(d) . RXX(c) . (RY(a) (x) RX(b)),

    RY(a) = exp(-i a Y / 2),  RX(b) = exp(-i b X / 2),
    RXX(c) = exp(-i c X(x)X / 2),  RYY(d) = exp(-i d Y(x)Y / 2),

four parameters per block, B(0, 0, 0, 0) = I. RXX and RYY commute and are symmetric, RY^T =
RY(-a) and RX^T = RX(b), so B^T = RXX(c) RYY(d) (RY(-a) (x) RX(b)) read right to left, i.e.
the gate sequence RYY(d), RXX(c), RX(b), RY(-a): a transposed block is again made of native
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
- ``centrosymmetric`` (:mod:`qdsformer.quantum.centrosymmetric`): a brick wall of blocks that
  commute with X on both qubits, so every P is centrosymmetric by construction.
- ``trotter`` (:mod:`qdsformer.quantum.trotter`): one second-order Trotter step per layer of
  a parametrised nearest-neighbour Hamiltonian.

Qubit order: qubit 0 is the most significant bit of our basis index (data qubits first,
then auxiliary qubits), as in PennyLane (wire k = our qubit k). Qiskit is little-endian, so
:meth:`Ansatz.to_qiskit` puts our qubit k on Qiskit qubit ``q - 1 - k``; with that,
``qiskit.quantum_info.Operator(ansatz.to_qiskit(a)).data == ansatz.unitary(a)`` entry by entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch

from qdsformer.common.registry import Registry
from qdsformer.quantum.blocks import BRICK, PENNYLANE_NAMES, BlockKind, block_matrices
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
    """One block of kind ``kind`` on qubits (qubit, qubit + 1).

    Attributes:
        qubit: the first (more significant) of the two adjacent qubits.
        params: indices in the ansatz's angle vector of the kind's angles (slot order);
            (a, b, c, d) for :data:`~qdsformer.quantum.blocks.BRICK`.
        transposed: the block acts as B^T (the parted ansatz's purification half).
        kind: the gate set (default: the ``simple`` / ``parted`` brick block).
    """

    qubit: int
    params: tuple[int, ...]
    transposed: bool = False
    kind: BlockKind = BRICK

    def __post_init__(self) -> None:
        if len(self.params) != self.kind.n_params:
            raise ValueError(f"a {self.kind.name!r} block takes {self.kind.n_params} parameter "
                             f"indices, got {self.params!r}")


@dataclass(frozen=True)
class Gate:
    """One native gate for export: ``name`` in rx ry rz rxx ryy rzz, angle coeff * angles[param]."""

    name: str
    qubits: tuple[int, ...]
    param: int
    coeff: float = 1.0


def _kind_blocks(theta: torch.Tensor, groups: tuple,
                 transposed: torch.Tensor | None) -> torch.Tensor:
    """Per-block angles (N, K, p) -> block unitaries (N, K, 4, 4) for blocks of several kinds.

    ``groups``: (kind, block indices (k,) tensor) pairs covering 0..K-1; one batched
    :meth:`BlockKind.matrices` call per kind, scattered into place.
    """
    ctype = (torch.ones((), dtype=theta.dtype) * 1j).dtype
    out = torch.empty(*theta.shape[:-1], 4, 4, dtype=ctype, device=theta.device)  # (N, K, 4, 4)
    for kind, index in groups:
        out[..., index, :, :] = kind.matrices(
            theta[..., index, :], None if transposed is None else transposed[index])
    return out


class Ansatz:
    """A fixed sequence of :class:`Block` s on ``n_qubits`` qubits with ``n_params`` angles.

    Subclasses only lay out the blocks (any mix of block kinds; an angle may feed several
    gates); simulation and export are shared. See the module docstring for the qubit order
    and the Qiskit mapping.

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
        used = sorted({p for blk in self.blocks for p in blk.params})
        if used != list(range(len(used))):  # a layout bug, not user input
            raise RuntimeError(f"{type(self).__name__}: parameter indices must be 0..n-1")
        self.n_params = len(used)
        width = max(blk.kind.n_params for blk in self.blocks)
        # layout tables, built on the host; _tables(device) copies them once per device
        # (K, p): each block's angle indices, padded with its first index (never read)
        self._param_index = torch.tensor(
            [blk.params + (blk.params[0],) * (width - len(blk.params)) for blk in self.blocks],
            device="cpu")
        # (K,), or None when no block is transposed (the builders then skip the mask)
        self._transposed = (torch.tensor([blk.transposed for blk in self.blocks], device="cpu")
                            if any(blk.transposed for blk in self.blocks) else None)
        self._block_qubits = tuple(blk.qubit for blk in self.blocks)
        kinds = list(dict.fromkeys(blk.kind for blk in self.blocks))
        self._kind_groups = tuple(
            (kind, torch.tensor([k for k, blk in enumerate(self.blocks) if blk.kind == kind],
                                device="cpu"))  # (k,)
            for kind in kinds)
        self._on_device: dict[torch.device, tuple] = {
            torch.device("cpu"): (self._param_index, self._transposed, self._kind_groups)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
                f"n_params={self.n_params})")

    # ----------------------------------------------------------------- layout
    def _brick_wall(self, n_layers: int, first_param: int, kind: BlockKind = BRICK) -> list[Block]:
        """``n_layers`` brick-wall layers of ``kind`` blocks, parameters from ``first_param``."""
        q, blocks, p, width = self.n_qubits, [], first_param, kind.n_params
        for _ in range(n_layers):
            for start in (0, 1):
                for k in range(start, q - 1, 2):
                    blocks.append(Block(k, tuple(range(p, p + width)), kind=kind))
                    p += width
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

    def _tables(self, device: torch.device) -> tuple:
        """The layout tables (param index, transposed, kind groups) on ``device``.

        Copied once per device and kept, so a step on a GPU makes no host-to-device copies
        (and a captured CUDA graph none either).
        """
        tables = self._on_device.get(device)
        if tables is None:
            transposed = None if self._transposed is None else self._transposed.to(device)
            tables = (self._param_index.to(device), transposed,
                      tuple((kind, index.to(device)) for kind, index in self._kind_groups))
            self._on_device[device] = tables
        return tables

    def _block_angles(self, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple]:
        """angles (..., n_params) -> each block's angles (..., K, p), transposed (K,), groups."""
        self._check_angles(angles)
        param_index, transposed, groups = self._tables(angles.device)
        return angles[..., param_index], transposed, groups  # (..., K, p), (K,)

    @staticmethod
    def _make_blocks(transposed: torch.Tensor, groups: tuple):
        """The map per-block angles (N, K, p) -> block unitaries (N, K, 4, 4)."""
        if len(groups) == 1:
            return partial(groups[0][0].matrices, transposed=transposed)
        return partial(_kind_blocks, groups=groups, transposed=transposed)

    def block_unitaries(self, angles: torch.Tensor) -> torch.Tensor:
        """angles (..., n_params) -> the blocks' 4x4 unitaries (..., K, 4, 4), in order."""
        theta, transposed, groups = self._block_angles(angles)
        return self._make_blocks(transposed, groups)(theta)  # (..., K, 4, 4)

    def unitary(self, angles: torch.Tensor) -> torch.Tensor:
        """The circuit unitary V for each angle vector.

        Args:
            angles: (..., n_params) real; float32 gives complex64, float64 complex128.

        Returns:
            V (..., 2^q, 2^q), V = B_K ... B_1, our qubit order (qubit 0 most significant).
            Differentiable through the adjoint-method simulator: backward memory does not
            grow with the number of layers.
        """
        theta, transposed, groups = self._block_angles(angles)  # (..., K, p), (K,)
        return apply_blocks(theta, self._block_qubits, self.n_qubits,
                            make_blocks=self._make_blocks(transposed, groups),
                            param_ndim=1)  # (..., D, D)

    # ----------------------------------------------------------------- export
    def gates(self, blocks: Sequence[Block] | None = None) -> list[Gate]:
        """Native gates of ``blocks`` (default: all) in application order.

        Gate angle = ``coeff * angles[param]``; a transposed block exports its kind's gates
        reversed with the antisymmetric (odd-Y) ones negated
        (:meth:`~qdsformer.quantum.blocks.BlockKind.export_gates`).
        """
        out: list[Gate] = []
        for blk in self.blocks if blocks is None else blocks:
            for g in blk.kind.export_gates(blk.transposed):
                out.append(Gate(g.name, tuple(blk.qubit + w for w in g.wires),
                                blk.params[g.slot], g.coeff))
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
            value = gate.coeff * values[gate.param]
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
        pre = [replace(b, transposed=False) for b in self.blocks[: self.n_pre_blocks][::-1]]
        post = list(self.blocks[self.n_pre_blocks:])
        return self.to_qiskit(angles, pre), self.to_qiskit(angles, post)

    def to_pennylane(self, angles, wires: Sequence | None = None) -> list:
        """PennyLane operations (``RX RY RZ IsingXX IsingYY IsingZZ``) for the circuit.

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
        return [getattr(qml, PENNYLANE_NAMES[g.name])(g.coeff * angles[..., g.param],
                                                       wires=[wires[k] for k in g.qubits])
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
