"""Quantum doubly stochastic attention (QontOT): ansaetze, exact simulator, readout, export.

Public API (stable names; the circuits and analysis modules build on them):

    ansatz = get_ansatz("simple", n_qubits=7, n_layers=16)   # parted, centrosymmetric, trotter
    ansatz.n_params                     # simple/parted 4 (q-1) L, centrosymmetric 5 (q-1) L,
                                        # trotter (6q - 3) L; blocks of several gate sets
                                        # (qdsformer.quantum.blocks.BlockKind)
    V = ansatz.unitary(angles)          # angles (..., n_params) -> V (..., 2^q, 2^q), complex64
                                        # (complex128 for float64), adjoint-method backward
    qc = ansatz.to_qiskit(angles_1d)    # qiskit.QuantumCircuit; to_qiskit(None) -> parameterised
    pre, post = ansatz.hardware_parts(angles_1d)   # Bell-pair layout: V = U(post) U(pre)^T
    ops = ansatz.to_pennylane(angles)   # list of PennyLane ops (RX RY RZ IsingXX IsingYY IsingZZ)
    P = dsm_from_unitary(V, n_data_qubits)         # (1/m) block sum of |V|^2
    P = dsm_from_probs(abs(V)**2, n_data_qubits)   # the same from measured probabilities
    P_T = complete_padded(P, T)                    # T x T corner + exact rank-one completion
    P = qontot_dsm(scores, theta, ansatz)          # scores (..., T, T), theta (n_params,)
    P_n = qontot_full_dsm(scores, theta, ansatz)   # the n x n matrix before complete_padded
    P = depolarize(P_n, p)                         # (1 - p) P + p J / n
    P_hat = shot_estimate(P_n, shots)              # N Bell-pair shots, straight-through grad

Qubit order: qubit 0 is the most significant bit of our basis index; data qubits
(q_d = ceil(log2 T)) come first, then auxiliary qubits, so V's row index is
i * 2^q_a + a for data index i and auxiliary index a. PennyLane wire k is our qubit k.
Qiskit is little-endian: ``to_qiskit`` places our qubit k on Qiskit qubit q - 1 - k, which
makes ``qiskit.quantum_info.Operator(ansatz.to_qiskit(a)).data`` equal ``ansatz.unitary(a)``.
In a Qiskit circuit the data register is therefore the top qubits q-1 .. q-q_d, and a count
bitstring (printed highest qubit first) reads in our order.

Qiskit and PennyLane are imported only inside the export functions.
"""

from qdsformer.quantum.ansatz import (
    Ansatz,
    Block,
    Gate,
    block_matrices,
    get_ansatz,
    list_ansaetze,
    register_ansatz,
)
from qdsformer.quantum.blocks import BRICK, BlockKind, GateTemplate
from qdsformer.quantum.centrosymmetric import CentrosymmetricAnsatz
from qdsformer.quantum.noise import depolarize, shot_estimate, validate_noise
from qdsformer.quantum.readout import (
    complete_padded,
    dsm_from_probs,
    dsm_from_unitary,
    encode_angles,
    n_data_qubits_for,
    qontot_dsm,
    qontot_full_dsm,
)
from qdsformer.quantum.simulator import apply_blocks
from qdsformer.quantum.trotter import TrotterAnsatz

__all__ = [
    "BRICK",
    "Ansatz",
    "Block",
    "BlockKind",
    "CentrosymmetricAnsatz",
    "Gate",
    "GateTemplate",
    "TrotterAnsatz",
    "apply_blocks",
    "block_matrices",
    "complete_padded",
    "dsm_from_probs",
    "dsm_from_unitary",
    "encode_angles",
    "get_ansatz",
    "list_ansaetze",
    "n_data_qubits_for",
    "qontot_dsm",
    "qontot_full_dsm",
    "depolarize",
    "shot_estimate",
    "validate_noise",
    "register_ansatz",
]
