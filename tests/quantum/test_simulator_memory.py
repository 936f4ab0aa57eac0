"""The simulator refuses batches whose (N, 2^q, 2^q) unitaries would not fit, before allocating."""

import pytest
import torch

from qdsformer.quantum import get_ansatz
from qdsformer.quantum.simulator import MAX_UNITARY_BYTES, check_unitary_memory


def test_huge_unitary_batch_is_refused_with_the_estimate():
    ansatz = get_ansatz("simple", 20, 1)
    with pytest.raises(ValueError) as info:
        ansatz.unitary(torch.zeros(3, ansatz.n_params, dtype=torch.float64))
    assert str(info.value) == (
        "simulating 3 circuit(s) of 20 qubits needs at least 49,152.0 GiB for the (N, 2^q, 2^q) "
        "unitaries (16 bytes per entry); the bound is 64 GiB "
        "(qdsformer.quantum.simulator.MAX_UNITARY_BYTES): use fewer qubits or a smaller batch")


def test_bound_is_inclusive_and_small_circuits_pass():
    check_unitary_memory(1, 4, 16)
    n = MAX_UNITARY_BYTES // (4**10 * 16)
    check_unitary_memory(n, 10, 16)  # exactly at the bound
    with pytest.raises(ValueError):
        check_unitary_memory(n + 1, 10, 16)
    ansatz = get_ansatz("simple", 3, 1)
    unitary = ansatz.unitary(torch.zeros(2, ansatz.n_params, dtype=torch.float64))
    assert unitary.shape == (2, 8, 8)
