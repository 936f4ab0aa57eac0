"""Bell-pair readout: one circuit on 2 q qubits whose counts estimate the whole T x T DSM.

The QontOT matrix of a q-qubit unitary V on data register D (q_d qubits, n = 2^q_d) and
auxiliary register A (q_a qubits, m = 2^q_a) is

    P[i, j] = (1/m) sum_{a, b} |V[(i, a), (j, b)]|^2        (QDSFormer, Born et al. 2025).

Prepare maximally entangled pairs between D and a copy D', and between A and A',
|Phi> = (nm)^{-1/2} sum_{j, b} |j, b>_{DA} |j, b>_{D'A'}, apply V on D x A, and measure D and
D' (A and A' are traced out):

    Pr(D = i, D' = j) = (1/(nm)) sum_{a, b} |<i, a| V |j, b>|^2 = P[i, j] / n.

So the joint frequency of (D = i, D' = j) times n estimates P[i, j]: **row index = D outcome,
column index = D' outcome** (no transpose). Because (X (x) I)|Phi> = (I (x) X^T)|Phi>, the
``parted`` layout runs the ansatz's first half W1, transposed, on D'A' and the rest on DA, in
parallel: half the depth (:meth:`qdsformer.quantum.ansatz.Ansatz.hardware_parts`).

Qubit layout of the circuit (Qiskit indices; the ansatz's ``to_qiskit`` puts our data qubits,
the most significant ones, on the high Qiskit qubits): system register ``sys`` = qubits
0..q-1 with A on 0..q_a-1 and D on q_a..q-1; purification register ``pur`` = qubits q..2q-1
with A' on q..q+q_a-1 and D' on q+q_a..2q-1. The classical register ``c`` has 2 q_d bits:
bits 0..q_d-1 hold D' (column j), bits q_d..2q_d-1 hold D (row i), so the integer value of an
outcome is ``i * n + j`` and the frequency vector reshapes row-major to (n, n).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from qdsformer.hardware.spec import CircuitSpec
from qdsformer.quantum import complete_padded, get_ansatz

CREG = "c"


def spec_ansatz(spec: CircuitSpec):
    """The ansatz object of ``spec`` (``qdsformer.quantum.get_ansatz``) on q qubits."""
    return get_ansatz(spec.ansatz, spec.n_qubits, spec.n_layers)


def bell_readout_circuit(ansatz, angles: torch.Tensor, *, n_data_qubits: int,
                         layout: str = "parted", measure: bool = True):
    """The Bell-pair readout circuit for one angle vector.

    Args:
        ansatz: a ``qdsformer.quantum`` ansatz on q = q_d + q_a qubits.
        angles: (n_params,) circuit angles (already encoded with the scores).
        n_data_qubits: q_d, the size of the data register (the rest are auxiliary).
        layout: ``direct`` (all of V on the system register) or ``parted`` (the ansatz's
            ``hardware_parts``: first half transposed on the purification register).
        measure: add the measurements of D and D' into the register ``c``.

    Returns:
        A ``QuantumCircuit`` on 2q qubits (registers ``sys``, ``pur``; ``c`` if measured).
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    q, q_d = ansatz.n_qubits, n_data_qubits
    if not 1 <= q_d < q + 1:
        raise ValueError(f"n_data_qubits must be in 1..{q}, got {q_d}")
    if layout not in ("direct", "parted"):
        raise ValueError(f"layout must be 'direct' or 'parted', got {layout!r}")
    sys_reg, pur_reg = QuantumRegister(q, "sys"), QuantumRegister(q, "pur")
    circuit = QuantumCircuit(sys_reg, pur_reg, name=f"bell_{ansatz.name}_{layout}")
    for k in range(q):  # one Bell pair per (system qubit, purification qubit)
        circuit.h(sys_reg[k])
        circuit.cx(sys_reg[k], pur_reg[k])
    if layout == "parted":
        pre, post = ansatz.hardware_parts(angles)
        circuit.compose(pre, qubits=list(pur_reg), inplace=True)
        circuit.compose(post, qubits=list(sys_reg), inplace=True)
    else:
        circuit.compose(ansatz.to_qiskit(angles), qubits=list(sys_reg), inplace=True)
    if measure:
        creg = ClassicalRegister(2 * q_d, CREG)
        circuit.add_register(creg)
        circuit.measure(measured_qubits(q, q_d), list(creg))
    return circuit


def measured_qubits(n_qubits: int, n_data_qubits: int) -> list[int]:
    """Qiskit indices of D' then D, in classical-bit order (bit k <- entry k)."""
    q, q_a = n_qubits, n_qubits - n_data_qubits
    return [q + q_a + k for k in range(n_data_qubits)] + [q_a + k for k in range(n_data_qubits)]


def exact_frequencies(circuit, *, n_qubits: int, n_data_qubits: int) -> torch.Tensor:
    """Exact outcome probabilities of an unmeasured Bell circuit, (n^2,) float64, index i*n+j."""
    from qiskit.quantum_info import Statevector

    probs = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities(
        measured_qubits(n_qubits, n_data_qubits))
    return torch.as_tensor(probs, dtype=torch.float64)  # (n*n,)


def counts_to_frequencies(counts: Mapping, *, n_data_qubits: int) -> torch.Tensor:
    """Counts {bitstring or int: count} of register ``c`` -> frequencies (n^2,), index i*n+j."""
    n2 = 4 ** n_data_qubits
    freq = torch.zeros(n2, dtype=torch.float64)  # (n*n,)
    total = 0
    for key, value in counts.items():
        index = int(key.replace(" ", ""), 2) if isinstance(key, str) else int(key)
        if not 0 <= index < n2:
            raise ValueError(f"outcome {key!r} does not fit {2 * n_data_qubits} measured bits")
        freq[index] += value
        total += value
    if total <= 0:
        raise ValueError("counts are empty; expected at least one shot")
    return freq / total


def frequencies_to_dsm(freq: torch.Tensor, *, n_tokens: int) -> torch.Tensor:
    """Joint frequencies of (D, D') (..., n^2) -> the T x T estimate (..., T, T).

    P_hat = n * freq reshaped to (n, n) (row = D outcome, column = D' outcome). For T < n the
    T x T corner is completed to a doubly stochastic matrix exactly as the simulator does
    (``qdsformer.quantum.complete_padded``), so exact frequencies give exactly the exact P.
    """
    n2 = freq.shape[-1]
    n = round(n2 ** 0.5)
    if n * n != n2 or n < n_tokens:
        raise ValueError(f"frequencies of length {n2} cannot hold a {n_tokens}x{n_tokens} DSM")
    estimate = n * freq.reshape(*freq.shape[:-1], n, n)  # (..., n, n)
    return complete_padded(estimate, n_tokens)  # (..., T, T)
