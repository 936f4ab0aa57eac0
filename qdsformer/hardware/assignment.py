"""Readout (measurement assignment) error mitigation for the Bell-pair circuits.

Each measured qubit k misreads with probabilities e0_k = Pr(read 1 | prepared 0) and
e1_k = Pr(read 0 | prepared 1). With independent readout errors the measured outcome
distribution is f_meas = (A_{B-1} (x) ... (x) A_0) f_true over the B = 2 q_d measured bits, with

    A_k = [[1 - e0_k, e1_k],
           [e0_k,     1 - e1_k]],

so f_true = (A_{B-1}^{-1} (x) ... (x) A_0^{-1}) f_meas, applied one bit at a time (the
tensored mitigation of Bravyi et al., PRA 103, 042605, 2021). The rates come from two
calibration circuits per set of measured physical qubits, run in the same batch as the
circuits: all qubits prepared in |0> and all in |1>, then measured. The corrected vector sums
to 1 but may have small negative entries; the Birkhoff projection afterwards removes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def measured_physical_qubits(circuit) -> tuple[int, ...]:
    """Physical qubit measured into each classical bit of a transpiled circuit, by bit index."""
    pairs = sorted((circuit.find_bit(inst.clbits[0]).index, circuit.find_bit(inst.qubits[0]).index)
                   for inst in circuit.data if inst.operation.name == "measure")
    return tuple(qubit for _, qubit in pairs)


def calibration_circuits(num_qubits: int, physical: Sequence[int], creg: str = "c") -> list:
    """Two ISA circuits on ``num_qubits``: prepare all of ``physical`` in |0> / |1>, measure.

    Qubit ``physical[k]`` is measured into bit k of the register ``creg``, as in the circuits
    being calibrated. Only ``x`` and ``measure`` are used, native on every IBM backend.
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    out = []
    for prepare_one in (False, True):
        circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"),
                                 ClassicalRegister(len(physical), creg),
                                 name=f"readout_cal_{int(prepare_one)}")
        if prepare_one:
            for qubit in physical:
                circuit.x(qubit)
        for bit, qubit in enumerate(physical):
            circuit.measure(qubit, bit)
        out.append(circuit)
    return out


def _bit_probabilities(counts: Mapping, n_bits: int) -> torch.Tensor:
    """Pr(bit k reads 1) for k = 0..n_bits-1 from counts {bitstring or int: count}."""
    ones = torch.zeros(n_bits, dtype=torch.float64)
    total = 0.0
    for key, value in counts.items():
        index = int(key.replace(" ", ""), 2) if isinstance(key, str) else int(key)
        for k in range(n_bits):
            if (index >> k) & 1:
                ones[k] += value
        total += value
    if total <= 0:
        raise ValueError("calibration counts are empty; expected at least one shot")
    return ones / total  # (n_bits,)


def readout_rates(zero_counts: Mapping, one_counts: Mapping, n_bits: int) -> torch.Tensor:
    """(n_bits, 2) rates [e0_k, e1_k] from the all-|0> and all-|1> calibration counts."""
    e0 = _bit_probabilities(zero_counts, n_bits)  # Pr(1 | 0)
    e1 = 1.0 - _bit_probabilities(one_counts, n_bits)  # Pr(0 | 1)
    return torch.stack([e0, e1], -1)  # (n_bits, 2)


def correct_readout(freq: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Invert independent per-bit readout errors on outcome frequencies.

    Args:
        freq: (..., 2^B) measured frequencies; bit k of the index is classical bit k.
        rates: (..., B, 2) [e0_k, e1_k] per bit (broadcast over the leading dims of ``freq``).

    Returns:
        (..., 2^B) corrected quasi-probabilities (sum 1, may be slightly negative).

    Raises:
        ValueError: a bit with e0 + e1 >= 1 (its readout carries no information).
    """
    n_bits = rates.shape[-2]
    if freq.shape[-1] != 2 ** n_bits:
        raise ValueError(f"freq has {freq.shape[-1]} outcomes, expected 2^{n_bits} for "
                         f"{n_bits} calibrated bits")
    e0, e1 = rates[..., 0].to(torch.float64), rates[..., 1].to(torch.float64)  # (..., B)
    det = 1.0 - e0 - e1  # (..., B)
    if bool((det <= 1e-6).any()):
        raise ValueError(f"readout rates e0 + e1 >= 1 on some bit ({rates.tolist()}); the "
                         "measurement cannot be inverted")
    inverse = torch.stack([torch.stack([1 - e1, -e1], -1),
                           torch.stack([-e0, 1 - e0], -1)], -2) / det[..., None, None]  # (..., B, 2, 2)
    lead = freq.shape[:-1]
    out = freq.to(torch.float64).reshape(*lead, *([2] * n_bits))  # axis -1-k <-> bit k
    for k in range(n_bits):
        axis = out.dim() - 1 - k
        moved = out.movedim(axis, -1)  # (..., 2) with bit k last
        inv_k = inverse[..., k, :, :].reshape(*lead, *([1] * (n_bits - 1)), 2, 2)
        moved = (inv_k @ moved.unsqueeze(-1)).squeeze(-1)
        out = moved.movedim(-1, axis)
    return out.reshape(*lead, 2 ** n_bits)  # (..., 2^B)
