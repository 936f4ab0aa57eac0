"""Readout, padding completion, encoding and the exact QontOT matrix."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qdsformer.quantum import (
    complete_padded,
    dsm_from_probs,
    dsm_from_unitary,
    encode_angles,
    get_ansatz,
    n_data_qubits_for,
    qontot_dsm,
)


def _theta(ansatz, dtype=torch.float64):
    return torch.rand(ansatz.n_params, dtype=dtype) * 2 - 1


def test_block_sum_matches_the_definition_entry_by_entry():
    q, q_d = 4, 2
    ansatz = get_ansatz("simple", q, 2)
    v = ansatz.unitary(torch.rand(ansatz.n_params, dtype=torch.float64) * 4 - 2).numpy()
    n, m = 2**q_d, 2 ** (q - q_d)
    expected = np.zeros((n, n))
    for i, j, a, b in itertools.product(range(n), range(n), range(m), range(m)):
        expected[i, j] += abs(v[i * m + a, j * m + b]) ** 2 / m
    got = dsm_from_unitary(torch.as_tensor(v), q_d).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-14)


def test_readout_closed_forms():
    # A permutation with no auxiliary qubits is returned as is (unistochastic, q_a = 0).
    perm = torch.eye(8, dtype=torch.complex128)[[3, 0, 7, 1, 2, 6, 4, 5]]
    assert torch.equal(dsm_from_unitary(perm, 3), perm.real)
    # Hadamards on every qubit: |V|^2 = 1/8 everywhere, so P is uniform.
    hadamard = torch.tensor([[1, 1], [1, -1]], dtype=torch.complex128) / 2**0.5
    h3 = torch.kron(torch.kron(hadamard, hadamard), hadamard)
    torch.testing.assert_close(dsm_from_unitary(h3, 1), torch.full((2, 2), 0.5, dtype=torch.float64))
    # An auxiliary-only unitary I (x) U leaves the data untouched: P = I.
    u_aux = torch.kron(torch.eye(4, dtype=torch.complex128), hadamard)  # 2 data + 1 aux
    torch.testing.assert_close(dsm_from_unitary(u_aux, 2), torch.eye(4, dtype=torch.float64))
    # dsm_from_probs is the same readout on |V|^2.
    torch.testing.assert_close(dsm_from_probs(h3.abs() ** 2, 2), torch.full((4, 4), 0.25,
                                                                              dtype=torch.float64))


@pytest.mark.parametrize("name", ["simple", "parted", "centrosymmetric", "trotter"])
@pytest.mark.parametrize("t", [2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("q_a", [0, 1, 3])
def test_qontot_matrix_is_doubly_stochastic(name, t, q_a):
    ansatz = get_ansatz(name, max(2, n_data_qubits_for(t) + q_a), 2)
    scores = 3 * torch.randn(4, 2, t, t)  # float32 -> complex64 simulation
    p = qontot_dsm(scores, _theta(ansatz, torch.float32), ansatz)
    assert p.shape == (4, 2, t, t) and p.dtype == torch.float32
    assert (p >= 0).all()
    ones = torch.ones(4, 2, t)
    torch.testing.assert_close(p.sum(-1), ones, atol=1e-5, rtol=0)
    torch.testing.assert_close(p.sum(-2), ones, atol=1e-5, rtol=0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 8), t=st.integers(1, 8), seed=st.integers(0, 10**6))
def test_completion_is_exactly_doubly_stochastic_and_keeps_the_corner_order(n, t, seed):
    t = min(t, n)
    gen = torch.Generator().manual_seed(seed)
    # a random doubly stochastic matrix: a convex mix of permutations
    weights = torch.rand(5, generator=gen, dtype=torch.float64)
    weights /= weights.sum()
    perms = [torch.eye(n, dtype=torch.float64)[torch.randperm(n, generator=gen)] for _ in range(5)]
    full = sum(w * p for w, p in zip(weights, perms))
    out = complete_padded(full, t)
    ones = torch.ones(t, dtype=torch.float64)
    torch.testing.assert_close(out.sum(-1), ones, atol=1e-12, rtol=0)
    torch.testing.assert_close(out.sum(-2), ones, atol=1e-12, rtol=0)
    assert (out >= full[:t, :t] - 1e-15).all()  # only mass is added to the corner


def test_completion_closed_form():
    full = torch.tensor([[0.5, 0.2, 0.3], [0.1, 0.6, 0.3], [0.4, 0.2, 0.4]], dtype=torch.float64)
    # corner [[.5, .2], [.1, .6]]: r = (.3, .3), c = (.4, .2), s = .6
    expected = torch.tensor([[0.5 + 0.2, 0.2 + 0.1], [0.1 + 0.2, 0.6 + 0.1]], dtype=torch.float64)
    torch.testing.assert_close(complete_padded(full, 2), expected)
    # an already doubly stochastic corner is returned unchanged (s = 0, no division by zero)
    block = torch.block_diag(torch.eye(2), torch.eye(2)).double()
    assert torch.equal(complete_padded(block, 2), torch.eye(2, dtype=torch.float64))


def test_encoding_tiles_the_scores_row_major():
    scores = torch.arange(4.0).reshape(2, 2)  # vec = (0, 1, 2, 3)
    theta = torch.arange(1.0, 11.0)  # 10 parameters
    expected = theta * torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1.0])
    assert torch.equal(encode_angles(scores, theta), expected)
    batch = torch.stack([scores, -scores])  # (2, 2, 2)
    assert torch.equal(encode_angles(batch, theta)[1], -expected)
    short = encode_angles(torch.ones(3, 3), torch.ones(4))  # fewer params than entries
    assert short.shape == (4,)


@pytest.mark.parametrize("name", ["simple", "parted", "centrosymmetric", "trotter"])
def test_gradcheck_scores_and_theta(name):
    ansatz = get_ansatz(name, 3, 2)  # T = 3 -> padded to 4, one auxiliary qubit
    scores = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    theta = _theta(ansatz).requires_grad_()
    assert torch.autograd.gradcheck(lambda s, th: qontot_dsm(s, th, ansatz), (scores, theta))


def test_bad_input_names_the_value():
    ansatz = get_ansatz("simple", 3, 1)
    with pytest.raises(ValueError, match="T = 16 needs 4 data qubits"):
        qontot_dsm(torch.randn(16, 16), _theta(ansatz), ansatz)
    with pytest.raises(ValueError, match=r"square \(\.\.\., T, T\), got shape \(3, 4\)"):
        qontot_dsm(torch.randn(3, 4), _theta(ansatz), ansatz)
    with pytest.raises(ValueError, match=r"theta must have shape \(8,\)"):
        qontot_dsm(torch.randn(2, 2), torch.zeros(5), ansatz)
    with pytest.raises(ValueError, match="n_data_qubits must be in 0..3"):
        dsm_from_unitary(torch.eye(8, dtype=torch.complex64), 4)
    with pytest.raises(ValueError, match="n_tokens must be in 1..4, got 5"):
        complete_padded(torch.eye(4), 5)
    with pytest.raises(ValueError, match="got 0"):
        n_data_qubits_for(0)
