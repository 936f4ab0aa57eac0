"""The centrosymmetric and trotter ansaetze: the property each one is built for, and block kinds."""

import numpy as np
import pytest
import scipy.linalg
import torch

from qdsformer.quantum import (
    BRICK,
    BlockKind,
    GateTemplate,
    block_matrices,
    dsm_from_unitary,
    get_ansatz,
    qontot_dsm,
)

_PAULI = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
          "Z": np.diag([1.0, -1.0])}


def _pauli_string(q: int, ops: dict) -> np.ndarray:
    """kron over qubits 0..q-1 (qubit 0 most significant) of ops.get(k, I)."""
    out = np.eye(1)
    for k in range(q):
        out = np.kron(out, _PAULI[ops.get(k, "I")])
    return out


def _random_angles(ansatz, seed, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(ansatz.n_params, generator=gen, dtype=torch.float64) * 2 - 1) * scale


# ---------------------------------------------------------------- centrosymmetric
# q_d >= 2: every 2x2 doubly stochastic matrix is centrosymmetric, so q_d = 1 tells nothing
@pytest.mark.parametrize("q,q_d,layers", [(2, 2, 2), (3, 2, 2), (3, 3, 1), (4, 2, 3), (4, 3, 1),
                                          (5, 3, 2), (5, 2, 4)])
def test_centrosymmetric_readout_is_centrosymmetric_and_simple_is_not(q, q_d, layers):
    for seed in range(3):
        ansatz = get_ansatz("centrosymmetric", q, layers)
        p = dsm_from_unitary(ansatz.unitary(_random_angles(ansatz, seed)), q_d)  # (n, n)
        torch.testing.assert_close(p, p.flip(0, 1), atol=1e-12, rtol=0)
        simple = get_ansatz("simple", q, layers)
        p_simple = dsm_from_unitary(simple.unitary(_random_angles(simple, seed)), q_d)
        assert (p_simple - p_simple.flip(0, 1)).abs().max() > 1e-3


def test_centrosymmetric_unitary_commutes_with_x_on_every_qubit():
    q = 4
    ansatz = get_ansatz("centrosymmetric", q, 3)
    v = ansatz.unitary(_random_angles(ansatz, 0)).numpy()
    x_all = _pauli_string(q, dict.fromkeys(range(q), "X"))
    np.testing.assert_allclose(x_all @ v @ x_all, v, atol=1e-12)
    assert np.abs(v - np.eye(2**q)).max() > 0.1  # and it is not trivially the identity


def test_qontot_with_centrosymmetric_gives_centrosymmetric_attention():
    ansatz = get_ansatz("centrosymmetric", 5, 2)  # T = 8: 3 data + 2 auxiliary qubits
    scores = torch.randn(3, 8, 8, dtype=torch.float64)
    theta = torch.rand(ansatz.n_params, dtype=torch.float64) * 2 - 1
    p = qontot_dsm(scores, theta, ansatz)  # (3, 8, 8)
    torch.testing.assert_close(p, p.flip(-2, -1), atol=1e-12, rtol=0)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 8, dtype=torch.float64), atol=1e-12,
                               rtol=0)


@pytest.mark.parametrize("n_qubits,n_data,n_layers", [(2, 2, 4), (3, 2, 2), (4, 2, 2),
                                                     (5, 3, 2)])
def test_centrosymmetric_has_no_other_hidden_symmetry(n_qubits, n_data, n_layers):
    ansatz = get_ansatz("centrosymmetric", n_qubits, n_layers)
    p = dsm_from_unitary(ansatz.unitary(_random_angles(ansatz, n_qubits)), n_data)
    n = p.shape[0]
    idx = torch.arange(n)
    for u in range(n):
        for v in range(n):
            moved = p[(idx ^ u)][:, idx ^ v]
            if (u or v) and (u, v) != (n - 1, n - 1):
                assert (moved - p).abs().max() > 1e-6, (u, v)
            assert (moved.T - p).abs().max() > 1e-6, (u, v, "transpose")


# ---------------------------------------------------------------- trotter
def _trotter_hamiltonian(q: int, params: np.ndarray) -> np.ndarray:
    """H = 1/2 sum_k (Jx XX + Jy YY + Jz ZZ)_{k,k+1} + 1/2 sum_k (hx X + hy Y + hz Z)_k, built
    from the documented layout (bond k: 3k..3k+2, site k: 3(q-1) + 3k..+2)."""
    h = np.zeros((2**q, 2**q), dtype=complex)
    for k in range(q - 1):
        for i, p in enumerate("XYZ"):
            h += params[3 * k + i] / 2 * _pauli_string(q, {k: p, k + 1: p})
    for k in range(q):
        for i, p in enumerate("XYZ"):
            h += params[3 * (q - 1) + 3 * k + i] / 2 * _pauli_string(q, {k: p})
    return h


@pytest.mark.parametrize("q", [2, 3, 4, 5])
def test_trotter_layer_is_a_second_order_step(q):
    ansatz = get_ansatz("trotter", q, 1)
    assert ansatz.n_params == 6 * q - 3
    gen = np.random.default_rng(q)
    params = gen.uniform(-1, 1, ansatz.n_params)
    errors = []
    for t in (0.2, 0.1, 0.05):
        v = ansatz.unitary(torch.tensor(t * params)).numpy()
        exact = scipy.linalg.expm(-1j * _trotter_hamiltonian(q, t * params))
        errors.append(np.linalg.norm(v - exact, 2))
    # Strang: error ~ t^3, so halving t divides it by ~8 (a first-order split gives ~4)
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(6.5 < r < 9.5 for r in ratios), (errors, ratios)
    assert errors[2] < 1e-3


def test_trotter_layers_with_equal_parameters_approach_the_long_time_evolution():
    # L steps of one H: error ~ L t^3, far below the single step over L t.
    q, layers, t = 3, 4, 0.1
    ansatz = get_ansatz("trotter", q, layers)
    params = np.random.default_rng(0).uniform(-1, 1, 6 * q - 3)
    v = ansatz.unitary(torch.tensor(np.tile(t * params, layers))).numpy()
    exact = scipy.linalg.expm(-1j * layers * _trotter_hamiltonian(q, t * params))
    one_step = get_ansatz("trotter", q, 1).unitary(torch.tensor(layers * t * params)).numpy()
    assert np.linalg.norm(v - exact, 2) < np.linalg.norm(one_step - exact, 2) / 8


@pytest.mark.parametrize("q,layers", [(2, 1), (3, 1), (4, 1), (3, 2)])
def test_every_trotter_parameter_moves_p_without_auxiliary_qubits(q, layers):
    # diagonal gates at either end of V are invisible to |V|^2: none may sit there alone
    ansatz = get_ansatz("trotter", q, layers)
    angles = _random_angles(ansatz, q, scale=1.0)
    jac = torch.autograd.functional.jacobian(
        lambda x: dsm_from_unitary(ansatz.unitary(x), q), angles)  # (n, n, n_params)
    assert jac.flatten(0, 1).norm(dim=0).min() > 1e-4


def test_trotter_half_steps_carry_coefficient_one_half():
    ansatz = get_ansatz("trotter", 3, 1)
    coeffs = {}
    for gate in ansatz.gates():
        coeffs.setdefault(gate.param, []).append(gate.coeff)
    # odd bond (1, 2): one full-step gate per coupling; every other parameter: two half steps
    for p in range(ansatz.n_params):
        expected = [1.0] if 3 <= p < 6 else [0.5, 0.5]
        assert coeffs[p] == expected, (p, coeffs[p])


# ---------------------------------------------------------------- shared
def test_parameter_counts_of_the_new_ansaetze():
    assert get_ansatz("centrosymmetric", 7, 16).n_params == 5 * 6 * 16
    assert get_ansatz("trotter", 7, 16).n_params == 39 * 16
    assert get_ansatz("trotter", 2, 1).n_params == 9


@pytest.mark.parametrize("name", ["centrosymmetric", "trotter"])
def test_qontot_normaliser_accepts_the_new_ansaetze(name):
    from qdsformer.attention.qontot import QontOT

    norm = QontOT(n_aux_qubits=1, n_layers=2, ansatz=name, strategy="differentiable", max_qubits=4)
    scores = torch.randn(2, 2, 5, 5, requires_grad=True)
    p = norm(scores)  # (2, 2, 5, 5)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, 2, 5), atol=1e-5, rtol=0)
    p[..., 0, 1].sum().backward()
    assert scores.grad.abs().sum() > 0 and norm.theta.grad.abs().sum() > 0


def test_generic_block_kind_matches_the_hand_fused_brick_block():
    # the generic gate-by-gate product against the hand-written block_matrices
    generic = BlockKind("brick_generic", BRICK.gates)
    theta = torch.rand(6, 4, dtype=torch.float64) * 6 - 3
    mask = torch.tensor([True, False] * 3)
    torch.testing.assert_close(generic.matrices(theta), block_matrices(theta), atol=1e-14, rtol=0)
    torch.testing.assert_close(generic.matrices(theta, mask), block_matrices(theta, mask),
                               atol=1e-14, rtol=0)


def test_block_kind_transpose_export_is_the_transposed_matrix():
    from qdsformer.quantum.trotter import PAIR_IN

    theta = torch.rand(3, PAIR_IN.n_params, dtype=torch.float64) * 4 - 2
    back = BlockKind("exported_transpose", tuple(
        GateTemplate(g.name, g.wires, g.slot, g.coeff) for g in PAIR_IN.export_gates(True)))
    torch.testing.assert_close(back.matrices(theta), PAIR_IN.matrices(theta).mT, atol=1e-14,
                               rtol=0)


def test_block_kind_bad_input_names_the_value():
    with pytest.raises(ValueError, match="gate name must be one of .* got 'cx'"):
        GateTemplate("cx", (0, 1), 0)
    with pytest.raises(ValueError, match=r"'rxx' needs 2 wire\(s\).*got \(0,\)"):
        GateTemplate("rxx", (0,), 0)
    with pytest.raises(ValueError, match="coefficient must be non-zero"):
        GateTemplate("rx", (0,), 0, 0.0)
    with pytest.raises(ValueError, match=r"slots must be 0..p-1, got \[1\]"):
        BlockKind("gap", (GateTemplate("rx", (0,), 1),))
    with pytest.raises(ValueError, match="needs 4 angles per block"):
        BRICK.matrices(torch.zeros(2, 3))
