"""Readout-error mitigation: exact inversion of tensored assignment errors, and its effect."""

from pathlib import Path

import pytest
import torch

from qdsformer.hardware import load_spec, run_dsm, summarize
from qdsformer.hardware.assignment import (
    calibration_circuits,
    correct_readout,
    measured_physical_qubits,
    readout_rates,
)


def _apply_readout_errors(freq, rates):
    """Forward model, written independently: sum over true outcomes of prod_k Pr(read | true)."""
    n_bits = rates.shape[0]
    out = torch.zeros_like(freq)
    for true in range(2 ** n_bits):
        for read in range(2 ** n_bits):
            p = 1.0
            for k in range(n_bits):
                t, r = (true >> k) & 1, (read >> k) & 1
                e = rates[k, t]  # e0 = Pr(1|0), e1 = Pr(0|1)
                p *= e if t != r else 1 - e
            out[read] += p * freq[true]
    return out


def test_correct_readout_inverts_independent_bit_flips():
    gen = torch.Generator().manual_seed(0)
    n_bits = 4
    true = torch.rand(2 ** n_bits, generator=gen, dtype=torch.float64)
    true /= true.sum()
    rates = 0.1 * torch.rand(n_bits, 2, generator=gen, dtype=torch.float64)
    measured = _apply_readout_errors(true, rates)
    assert not torch.allclose(measured, true, atol=1e-3)
    assert torch.allclose(correct_readout(measured, rates), true, atol=1e-12)
    batch = torch.stack([measured, measured])  # (2, 16) with per-row rates
    assert torch.allclose(correct_readout(batch, torch.stack([rates, rates])),
                          torch.stack([true, true]), atol=1e-12)


def test_readout_rates_from_calibration_counts_and_errors():
    # bit 0 flips 0->1 in 10% of shots; bit 1 reads 0 for a prepared 1 in 20% of shots
    zero = {"00": 90, "01": 10}
    one = {"11": 80, "01": 20}
    rates = readout_rates(zero, one, 2)
    assert torch.allclose(rates, torch.tensor([[0.1, 0.0], [0.0, 0.2]], dtype=torch.float64))
    with pytest.raises(ValueError, match="cannot be inverted"):
        correct_readout(torch.ones(4) / 4, torch.tensor([[0.5, 0.5], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="expected 2\\^2"):
        correct_readout(torch.ones(8) / 8, rates)
    with pytest.raises(ValueError, match="empty"):
        readout_rates({}, one, 2)


def test_calibration_circuits_measure_the_same_physical_qubits():
    zero, one = calibration_circuits(7, (5, 2, 6), "c")
    assert measured_physical_qubits(zero) == (5, 2, 6) == measured_physical_qubits(one)
    assert "x" not in zero.count_ops() and one.count_ops()["x"] == 3


def test_readout_mitigation_reduces_the_noisy_error():
    spec = load_spec(Path(__file__).resolve().parents[2] / "circuits" / "dsm4_small.yaml")
    plain = summarize(run_dsm(spec, backend="aer-noisy:fake_nairobi", shots=4000, seed=3))
    fixed_run = run_dsm(spec, backend="aer-noisy:fake_nairobi", shots=4000, seed=3,
                        readout_mitigation=True)
    fixed = summarize(fixed_run)
    assert fixed["readout_mitigation"] and not plain["readout_mitigation"]
    rates = torch.tensor(fixed_run.metadata["readout_rates"])
    assert rates.shape == (4, 2) and bool((rates > 0).all()) and bool((rates < 0.2).all())
    assert fixed["frobenius_raw"] < 0.8 * plain["frobenius_raw"]
    assert fixed["frobenius_mitigated"] <= fixed["frobenius_raw"] + 1e-9
