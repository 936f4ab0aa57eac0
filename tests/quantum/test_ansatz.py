"""Ansatz parity with Qiskit and PennyLane, unitarity, layout and bad input."""

import numpy as np
import pytest
import torch

from qdsformer.quantum import block_matrices, get_ansatz, list_ansaetze

ANSAETZE = ["simple", "parted", "centrosymmetric", "trotter"]


def _angles(ansatz, *batch, dtype=torch.float64):
    return torch.rand(*batch, ansatz.n_params, dtype=dtype) * 4 - 2


def test_registry_lists_all_four_ansaetze():
    assert set(ANSAETZE) <= set(list_ansaetze())


@pytest.mark.parametrize("name", ANSAETZE)
@pytest.mark.parametrize("q", [2, 3, 4, 5, 6])
def test_unitary_matches_qiskit_operator(name, q):
    from qiskit.quantum_info import Operator

    ansatz = get_ansatz(name, q, 3)
    angles = _angles(ansatz)
    ours = ansatz.unitary(angles).numpy()
    theirs = Operator(ansatz.to_qiskit(angles)).data
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ANSAETZE)
@pytest.mark.parametrize("q", [2, 3, 4, 5, 6])
def test_unitary_matches_pennylane_matrix(name, q):
    import pennylane as qml

    ansatz = get_ansatz(name, q, 3)
    angles = _angles(ansatz)
    ops = ansatz.to_pennylane(angles.numpy())
    theirs = qml.matrix(lambda: [qml.apply(op) for op in ops], wire_order=range(q))()
    np.testing.assert_allclose(ansatz.unitary(angles).numpy(), theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ANSAETZE)
def test_parameterised_qiskit_circuit_binds_to_the_same_unitary(name):
    from qiskit.quantum_info import Operator

    ansatz = get_ansatz(name, 4, 2)
    angles = _angles(ansatz)
    circuit = ansatz.to_qiskit(None)
    assert circuit.num_parameters == ansatz.n_params
    bound = circuit.assign_parameters(angles.tolist())
    np.testing.assert_allclose(Operator(bound).data, ansatz.unitary(angles).numpy(), atol=1e-6)


@pytest.mark.parametrize("name", ANSAETZE)
def test_hardware_parts_compose_to_the_unitary(name):
    from qiskit.quantum_info import Operator

    ansatz = get_ansatz(name, 4, 3)
    angles = _angles(ansatz)
    pre, post = ansatz.hardware_parts(angles)
    composed = Operator(post).data @ Operator(pre).data.T
    np.testing.assert_allclose(composed, ansatz.unitary(angles).numpy(), atol=1e-6)
    if name == "parted":  # half the layers on each register (rounded up on pre)
        assert pre.size() == 4 * 3 * 2 and post.size() == 4 * 3 * 1
    else:
        assert pre.size() == 0


def test_parted_is_in_the_simple_family():
    # W1^T with W1 a brick wall equals a simple circuit only through the block identity
    # B(a,b,c,d)^T = (RY(-a) (x) RX(b)) RXX(c) RYY(d); check that identity directly.
    theta = torch.rand(5, 4, dtype=torch.float64) * 4 - 2
    flipped = theta * torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    ry_only = flipped * torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    mix_only = theta * torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    expected = block_matrices(ry_only) @ block_matrices(mix_only)
    np.testing.assert_allclose(block_matrices(theta).mT.numpy(), expected.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ANSAETZE)
@pytest.mark.parametrize("dtype,ctype,tol", [(torch.float32, torch.complex64, 1e-5),
                                             (torch.float64, torch.complex128, 1e-12)])
def test_batched_unitaries_are_unitary(name, dtype, ctype, tol):
    ansatz = get_ansatz(name, 5, 8)
    v = ansatz.unitary(_angles(ansatz, 3, 2, dtype=dtype))  # (3, 2, 32, 32)
    assert v.shape == (3, 2, 32, 32) and v.dtype == ctype
    eye = torch.eye(32, dtype=ctype)
    assert (v @ v.mH - eye).abs().max() < tol
    assert (v.mH @ v - eye).abs().max() < tol


@pytest.mark.parametrize("name", ANSAETZE)
def test_zero_angles_give_identity(name):
    ansatz = get_ansatz(name, 4, 3)
    v = ansatz.unitary(torch.zeros(ansatz.n_params))
    assert torch.equal(v, torch.eye(16, dtype=torch.complex64))


def test_parameter_count_of_the_brick_wall():
    # q - 1 blocks of 4 parameters per layer: 384 for the paper's 7 qubits x 16 layers.
    assert get_ansatz("simple", 7, 16).n_params == 384
    assert get_ansatz("parted", 7, 16).n_params == 384
    assert get_ansatz("simple", 2, 1).n_params == 4


def test_batch_entries_are_independent():
    ansatz = get_ansatz("simple", 3, 2)
    angles = _angles(ansatz, 4)
    together = ansatz.unitary(angles)
    one_by_one = torch.stack([ansatz.unitary(a) for a in angles])
    torch.testing.assert_close(together, one_by_one, atol=1e-12, rtol=0)


def test_bad_input_names_the_value():
    with pytest.raises(ValueError, match="'brickwall'"):
        get_ansatz("brickwall", 3, 1)
    with pytest.raises(ValueError, match="n_qubits must be an int >= 2, got 1"):
        get_ansatz("simple", 1, 1)
    with pytest.raises(ValueError, match="n_layers must be an int >= 1, got 0"):
        get_ansatz("simple", 3, 0)
    ansatz = get_ansatz("simple", 3, 1)
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\), got \(7,\)"):
        ansatz.unitary(torch.zeros(7))
    with pytest.raises(ValueError, match="real floating tensor, got torch.int64"):
        ansatz.unitary(torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="expected 8 angles, got 3"):
        ansatz.to_qiskit([0.0, 1.0, 2.0])


# centrosymmetric has P[i, j] = P[n-1-i, n-1-j] by design (test_new_ansaetze.py)
@pytest.mark.parametrize("name", ["simple", "parted", "trotter"])
@pytest.mark.parametrize("n_qubits,n_data,n_layers", [(2, 2, 4), (3, 2, 1), (4, 2, 2), (5, 3, 2),
                                                     (7, 3, 4)])
def test_readout_has_no_hidden_symmetry(name, n_qubits, n_data, n_layers):
    """No relation P[i^u, j^v] = P[i, j] or = P[j, i] for bit-flip masks u, v holds.

    RY on both qubits of a block made every P centrosymmetric (u = v = n-1); RY (x) RX with
    RZZ tied P[i^1, j^1] = P[i, j] on 4x4 matrices."""
    from qdsformer.quantum import dsm_from_unitary

    ansatz = get_ansatz(name, n_qubits, n_layers)
    gen = torch.Generator().manual_seed(n_qubits)
    angles = torch.rand(ansatz.n_params, generator=gen, dtype=torch.float64) * 6 - 3
    p = dsm_from_unitary(ansatz.unitary(angles), n_data)
    idx = torch.arange(p.shape[0])
    for u in range(p.shape[0]):
        for v in range(p.shape[0]):
            moved = p[(idx ^ u)][:, idx ^ v]
            if u or v:
                assert (moved - p).abs().max() > 1e-6, (u, v)
            assert (moved.T - p).abs().max() > 1e-6, (u, v, "transpose")
