"""Parameter-shift gradients: exact on statevector, within shot noise on Aer, one batch."""

import pytest
import torch

from qdsformer.hardware import StatevectorRunner, parameter_shift, spec_from_dict
from qdsformer.hardware import shift as shift_module
from qdsformer.hardware import shot_matrix as shot_matrix_module
from qdsformer.hardware.assignment import correct_readout
from qdsformer.hardware.bell import spec_ansatz
from qdsformer.quantum import qontot_dsm


def _spec(n_tokens, n_aux, n_layers, ansatz, layout=None, **run):
    circuit = {"n_tokens": n_tokens, "n_aux_qubits": n_aux, "n_layers": n_layers,
               "ansatz": ansatz}
    if layout is not None:
        circuit["layout"] = layout
    return spec_from_dict({"name": "g", "circuit": circuit, "scores": {"seed": 1},
                           "theta": {"seed": 2, "low": -2.0, "high": 2.0}, "run": run})


def _autograd(spec):
    """dP/dtheta (P, T, T) and dP/dM (T, T, T, T) by plain autograd through qontot_dsm."""
    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)
    jac_s, jac_t = torch.autograd.functional.jacobian(
        lambda s, th: qontot_dsm(s, th, ansatz), (spec.scores, theta))
    return jac_t.permute(2, 0, 1), jac_s.permute(2, 3, 0, 1)


@pytest.mark.parametrize("n_tokens,n_aux,n_layers,ansatz,layout", [
    (4, 1, 2, "simple", "direct"),
    (4, 1, 2, "parted", "parted"),          # pre half transposed on the purification register
    (3, 1, 1, "parted", "direct"),          # transposed blocks in the circuit; T padded to 4
    (4, 1, 2, "centrosymmetric", "direct"),
    (4, 1, 1, "trotter", "direct"),         # half-step gates: coefficient 1/2, two per parameter
    (3, 1, 1, "trotter", "parted"),
])
def test_statevector_shift_equals_autograd(n_tokens, n_aux, n_layers, ansatz, layout):
    spec = _spec(n_tokens, n_aux, n_layers, ansatz, layout)
    result = parameter_shift(spec, backend="statevector")
    d_theta, d_scores = _autograd(spec)
    assert result.d_theta.shape == (spec_ansatz(spec).n_params, n_tokens, n_tokens)
    assert result.d_scores.shape == (n_tokens,) * 4
    assert d_theta.abs().max() > 1e-2  # a non-trivial gradient
    torch.testing.assert_close(result.d_theta, d_theta, atol=1e-9, rtol=0)
    torch.testing.assert_close(result.d_scores, d_scores, atol=1e-9, rtol=0)
    torch.testing.assert_close(result.d_phi, parameter_shift(spec, backend="exact").d_phi,
                               atol=1e-9, rtol=0)
    assert result.stderr_theta is None and result.n_circuits == 2 * result.n_gates + 1


def test_aer_million_shots_within_five_standard_errors():
    spec = _spec(4, 0, 1, "simple", "direct", seed=7)  # 2 qubits, 4 parameters, 9 circuits
    result = parameter_shift(spec, backend="aer", shots=10**6)
    d_theta, d_scores = _autograd(spec)
    errors = torch.cat([(result.d_theta - d_theta).flatten(), (result.d_scores - d_scores).flatten()])
    stderr = torch.cat([result.stderr_theta.flatten(), result.stderr_scores.flatten()])
    assert stderr.max() < 5e-3  # 10^6 shots: standard errors of order 1e-3
    measured = stderr > 0
    z = errors[measured] / stderr[measured]
    assert z.abs().max() < 5
    assert 0.3 < z.square().mean() < 3  # the standard errors have the right size
    assert errors[~measured].abs().max() == 0  # zero stderr only where nothing was measured


def test_all_shifted_circuits_go_in_one_batch(monkeypatch):
    calls = []

    class Spy(StatevectorRunner):
        def sample(self, circuits, shots=None):
            calls.append(len(circuits))
            return super().sample(circuits, shots)

    monkeypatch.setattr(shot_matrix_module, "make_runner", lambda *a, **k: Spy())
    spec = _spec(4, 1, 1, "trotter", "direct")
    result = parameter_shift(spec, backend="statevector")
    ansatz = spec_ansatz(spec)
    assert result.n_gates == len(ansatz.gates())  # every gate shifted, not every parameter
    assert calls == [2 * len(ansatz.gates()) + 1]


def test_readout_correction_is_folded_in_as_a_linear_map():
    gen = torch.Generator().manual_seed(0)
    rates = torch.rand(3, 4, 2, generator=gen, dtype=torch.float64) * 0.1  # (C, bits, 2)
    freq = torch.rand(3, 16, generator=gen, dtype=torch.float64)
    freq = freq / freq.sum(-1, keepdim=True)
    matrices = shift_module._readout_matrices(rates, 16)  # (C, 16, 16)
    expected = correct_readout(freq, rates)  # (C, 16)
    torch.testing.assert_close(torch.einsum("cab,cb->ca", matrices, freq), expected,
                               atol=1e-12, rtol=0)


def test_bad_input_is_a_clean_error():
    spec = _spec(4, 1, 1, "simple")
    with pytest.raises(ValueError, match="unknown backend 'warp'"):
        parameter_shift(spec, backend="warp")
    with pytest.raises(ValueError, match="shots must be an integer >= 1, got 0"):
        parameter_shift(spec, backend="aer", shots=0)
    with pytest.raises(ValueError, match="expected 9 circuits' frequencies, got 3"):
        shift_module.shift_gradients(torch.ones(3, 16) / 16, [shift_module.ShiftGate(0, 0, 1.0)] * 4,
                                     n_tokens=4, n_params=4, shots=None)
