"""Bell-pair readout circuit: exact probabilities reproduce the simulator's P (row = D, col = D')."""

import pytest
import torch

from qdsformer.hardware import (
    bell_readout_circuit,
    counts_to_frequencies,
    exact_dsm,
    exact_frequencies,
    frequencies_to_dsm,
    spec_angles,
    spec_ansatz,
    spec_from_dict,
)


def _spec(n_tokens, n_aux, n_layers, ansatz="parted", layout=None, **extra):
    circuit = {"n_tokens": n_tokens, "n_aux_qubits": n_aux, "n_layers": n_layers,
               "ansatz": ansatz}
    if layout is not None:
        circuit["layout"] = layout
    return spec_from_dict({"name": "t", "circuit": circuit, **extra})


@pytest.mark.parametrize("n_tokens,n_aux,n_layers,ansatz,layout", [
    (4, 1, 2, "parted", "parted"),
    (4, 2, 3, "parted", "direct"),
    (8, 4, 1, "parted", "parted"),   # the paper's 14-qubit hardware setting
    (8, 1, 2, "simple", "direct"),
    (5, 1, 2, "simple", "direct"),   # T not a power of two: padded + completed
    (6, 2, 3, "parted", "parted"),
    (4, 1, 2, "centrosymmetric", "direct"),
    (5, 1, 2, "centrosymmetric", "direct"),
    (4, 1, 2, "trotter", "direct"),
    (8, 0, 1, "trotter", "direct"),  # odd chain: the last site's own field block
    (4, 1, 2, "trotter", "parted"),  # simple-style hardware layout: empty pre
])
def test_bell_probabilities_reproduce_simulator_dsm(n_tokens, n_aux, n_layers, ansatz, layout):
    spec = _spec(n_tokens, n_aux, n_layers, ansatz, layout, scores={"seed": 3})
    circuit = bell_readout_circuit(spec_ansatz(spec), spec_angles(spec), n_data_qubits=spec.n_data_qubits,
                                   layout=spec.layout, measure=False)
    assert circuit.num_qubits == 2 * spec.n_qubits
    freq = exact_frequencies(circuit, n_qubits=spec.n_qubits, n_data_qubits=spec.n_data_qubits)  # (n*n,)
    assert float(freq.sum()) == pytest.approx(1.0, abs=1e-12)
    estimate = frequencies_to_dsm(freq, n_tokens=n_tokens)
    exact = exact_dsm(spec)
    assert estimate.shape == (n_tokens, n_tokens)
    assert torch.allclose(estimate, exact, atol=1e-6, rtol=0)


def test_row_is_data_outcome_and_column_is_copy_outcome():
    # A spec whose P is far from symmetric, so a transposed readout would be caught.
    spec = _spec(8, 1, 2, "simple", "direct", scores={"seed": 0, "std": 2.0},
                 theta={"low": -3.0, "high": 3.0})
    exact = exact_dsm(spec)
    assert float((exact - exact.T).abs().max()) > 0.1
    circuit = bell_readout_circuit(spec_ansatz(spec), spec_angles(spec), n_data_qubits=3,
                                   layout="direct",
                                   measure=False)
    freq = exact_frequencies(circuit, n_qubits=spec.n_qubits, n_data_qubits=3)
    assert torch.allclose(8 * freq.reshape(8, 8), exact, atol=1e-6)
    assert not torch.allclose(8 * freq.reshape(8, 8), exact.T, atol=1e-3)


def test_parted_layout_matches_direct_and_halves_the_depth():
    direct = _spec(4, 1, 6, "parted", "direct")
    parted = _spec(4, 1, 6, "parted", "parted")
    circ_d = bell_readout_circuit(spec_ansatz(direct), spec_angles(direct), n_data_qubits=2,
                                   layout="direct",
                                  measure=False)
    circ_p = bell_readout_circuit(spec_ansatz(parted), spec_angles(parted), n_data_qubits=2,
                                   layout="parted",
                                  measure=False)
    f_d = exact_frequencies(circ_d, n_qubits=3, n_data_qubits=2)
    f_p = exact_frequencies(circ_p, n_qubits=3, n_data_qubits=2)
    assert torch.allclose(f_d, f_p, atol=1e-10)
    bell_depth = 2  # H then CX
    assert circ_p.depth() - bell_depth <= (circ_d.depth() - bell_depth) // 2 + 1


def test_measured_circuit_register_layout():
    spec = _spec(4, 1, 2)
    circuit = bell_readout_circuit(spec_ansatz(spec), spec_angles(spec), n_data_qubits=2,
                                   layout="parted")
    assert [r.name for r in circuit.qregs] == ["sys", "pur"]
    assert [(r.name, r.size) for r in circuit.cregs] == [("c", 4)]
    assert circuit.count_ops()["measure"] == 4


def test_counts_to_frequencies_bit_order_and_errors():
    # value i * n + j: "10 01" -> D = 2 (row), D' = 1 (column) for q_d = 2
    freq = counts_to_frequencies({"1001": 3, "0000": 1}, n_data_qubits=2)
    assert freq[2 * 4 + 1] == pytest.approx(0.75) and freq[0] == pytest.approx(0.25)
    assert torch.equal(counts_to_frequencies({9: 3, 0: 1}, n_data_qubits=2), freq)
    with pytest.raises(ValueError, match="does not fit"):
        counts_to_frequencies({"100001": 1}, n_data_qubits=2)
    with pytest.raises(ValueError, match="empty"):
        counts_to_frequencies({}, n_data_qubits=2)


def test_bad_layout_and_register_sizes():
    spec = _spec(4, 1, 2)
    with pytest.raises(ValueError, match="layout"):
        bell_readout_circuit(spec_ansatz(spec), spec_angles(spec), n_data_qubits=2,
                                   layout="sideways")
    with pytest.raises(ValueError, match="n_data_qubits"):
        bell_readout_circuit(spec_ansatz(spec), spec_angles(spec), n_data_qubits=0)
    with pytest.raises(ValueError, match="cannot hold"):
        frequencies_to_dsm(torch.ones(15) / 15, n_tokens=4)
