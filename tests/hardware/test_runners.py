"""Runners: Aer shot noise, noisy fake backends + Birkhoff mitigation, the IBM runtime path."""

import json

import pytest
import torch

from qdsformer.hardware import (
    expected_shot_noise,
    fake_backend,
    mitigate,
    run_dsm,
    runtime_service,
    shots_sweep,
    spec_from_dict,
    summarize,
)

SMALL = {"name": "small", "circuit": {"n_tokens": 4, "n_aux_qubits": 1, "n_layers": 2,
                                      "ansatz": "parted"},
         "scores": {"seed": 0}, "theta": {"seed": 0}}


@pytest.fixture(scope="module")
def spec():
    return spec_from_dict(SMALL)


def _doubly_stochastic(p, tol=1e-6):
    ones = torch.ones(p.shape[-1], dtype=p.dtype)
    return (bool((p >= -tol).all()) and torch.allclose(p.sum(-1), ones, atol=tol)
            and torch.allclose(p.sum(-2), ones, atol=tol))


def test_exact_and_statevector_backends_agree(spec):
    exact = run_dsm(spec, backend="exact")
    sv = run_dsm(spec, backend="statevector")
    assert exact.shots is None and sv.shots is None
    assert torch.allclose(sv.estimate, exact.exact, atol=1e-6)
    assert torch.equal(exact.estimate, exact.exact)
    assert _doubly_stochastic(exact.exact)


def test_aer_estimate_is_within_the_expected_shot_noise(spec):
    shots = 20_000
    run = run_dsm(spec, backend="aer", shots=shots, seed=7)
    assert run.metadata["device"] in ("CPU", "GPU")
    assert sum(run.counts.values()) == shots
    noise = expected_shot_noise(run.exact, shots)  # sqrt(E||P_hat - P||^2) ~ n / sqrt(N)
    assert 0.01 < noise < 0.05
    error = float(torch.linalg.matrix_norm(run.estimate - run.exact))
    assert error < 3 * noise
    # P_hat = n * frequencies: total mass n exactly
    assert float(run.estimate.sum()) == pytest.approx(4.0, abs=1e-12)


def test_expected_shot_noise_matches_multinomial_sampling():
    gen = torch.Generator().manual_seed(0)
    exact = mitigate(torch.rand(4, 4, generator=gen, dtype=torch.float64))  # a DSM
    shots, trials = 500, 4000
    draws = torch.distributions.Multinomial(shots, probs=(exact / 4).reshape(-1))
    torch.manual_seed(1)
    estimates = 4 * draws.sample((trials,)).reshape(trials, 4, 4) / shots
    mse = ((estimates - exact) ** 2).sum((-2, -1)).mean()
    assert float(mse.sqrt()) == pytest.approx(expected_shot_noise(exact, shots), rel=0.05)
    with pytest.raises(ValueError, match="shots"):
        expected_shot_noise(exact, 0)


def test_noisy_fake_backend_is_worse_and_mitigation_reduces_the_distance(spec):
    ideal = summarize(run_dsm(spec, backend="aer", shots=4000, seed=3))
    noisy_run = run_dsm(spec, backend="aer-noisy:fake_nairobi", shots=4000, seed=3)
    noisy = summarize(noisy_run)
    assert noisy_run.metadata["noise_backend"] == "fake_nairobi"
    assert noisy["frobenius_raw"] > 2 * ideal["frobenius_raw"]
    assert noisy["frobenius_mitigated"] < noisy["frobenius_raw"]
    assert noisy["entropy_raw"] > noisy["entropy_exact"]  # noise pushes towards uniform
    assert noisy["spearman_raw"] > 0.8  # ... but keeps the order of the entries
    mitigated = torch.tensor(noisy["mitigated"], dtype=torch.float64)
    assert _doubly_stochastic(mitigated)
    assert not _doubly_stochastic(torch.tensor(noisy["estimate"], dtype=torch.float64))


def test_summary_record_fields_are_json_ready(spec):
    record = summarize(run_dsm(spec, backend="aer", shots=500, seed=0))
    for key in ("backend", "shots", "exact", "estimate", "mitigated", "frobenius_raw",
                "frobenius_mitigated", "spearman_raw", "spearman_mitigated"):
        assert key in record
    assert len(record["mitigated"]) == 4 and len(record["mitigated"][0]) == 4
    assert json.loads(json.dumps(record))["shots"] == 500


def test_ibm_path_through_the_runtime_local_mode(spec):
    from qiskit_ibm_runtime import QiskitRuntimeService

    service = QiskitRuntimeService(channel="local")
    run = run_dsm(spec, backend="ibm:fake_nairobi", shots=2000, seed=5, service=service,
                  dynamical_decoupling=True, twirling=True)
    assert run.backend == "ibm:fake_nairobi"
    assert run.metadata["dynamical_decoupling"] and run.metadata["twirling"]
    assert run.metadata["device"] == "fake_nairobi"
    assert set(run.metadata["transpiled_ops"]) <= {"rz", "sx", "x", "cx", "measure", "barrier",
                                                   "delay", "ecr", "id"}
    record = summarize(run)
    assert record["spearman_raw"] > 0.8
    assert record["frobenius_mitigated"] <= record["frobenius_raw"] + 1e-9
    # the same path picked by channel name
    again = run_dsm(spec, backend="ibm:fake_nairobi", shots=200, seed=5, ibm_channel="local",
                    readout_mitigation=True)
    assert again.estimate.shape == (4, 4)
    assert len(again.metadata["readout_rates"]) == 4  # calibrated in the same batch


def test_aer_noisy_with_error_suppression_runs_through_the_runtime_sampler(spec):
    run = run_dsm(spec, backend="aer-noisy:fake_nairobi", shots=1000, seed=2,
                  dynamical_decoupling=True)
    assert run.metadata["dynamical_decoupling"] is True
    assert run.estimate.shape == (4, 4)


def test_missing_ibm_account_gives_a_clear_error(monkeypatch, tmp_path):
    from qiskit_ibm_runtime.accounts import management

    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_URL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE",
                        str(tmp_path / "qiskit-ibm.json"))
    with pytest.raises(ValueError, match="no IBM Quantum account is configured"):
        runtime_service()
    spec = spec_from_dict(SMALL)
    with pytest.raises(ValueError, match="QISKIT_IBM_TOKEN"):
        run_dsm(spec, backend="ibm:ibm_torino", shots=100)


def test_bad_backends_and_shots(spec):
    with pytest.raises(ValueError, match="unknown backend"):
        run_dsm(spec, backend="quantum-annealer")
    with pytest.raises(ValueError, match="shots must be"):
        run_dsm(spec, backend="aer", shots=0)
    with pytest.raises(ValueError, match="unknown fake backend 'fake_atlantis'; known: .*fake_nairobi"):
        run_dsm(spec, backend="aer-noisy:fake_atlantis", shots=10)
    with pytest.raises(ValueError, match="backend aer-noisy:fake_manila allows 5"):
        run_dsm(spec, backend="aer-noisy:fake_manila", shots=10)  # 6 qubits needed
    with pytest.raises(ValueError, match="unknown fake backend 'fake_atlantis'"):
        run_dsm(spec, backend="ibm:fake_atlantis", shots=10, ibm_channel="local")
    from qiskit_ibm_runtime import QiskitRuntimeService

    with pytest.raises(ValueError, match="not available"):
        run_dsm(spec, backend="ibm:fake_atlantis", shots=10,
                service=QiskitRuntimeService(channel="local"))
    with pytest.raises(ValueError, match="ibm channel"):
        runtime_service("ibm_moon")
    with pytest.raises(ValueError, match="twirling need a device backend"):
        run_dsm(spec, backend="aer", shots=10, twirling=True)


def test_fake_backend_names():
    assert fake_backend("fake_nairobi").name == "fake_nairobi"
    assert fake_backend("FakeNairobiV2").name == "fake_nairobi"
    assert fake_backend("nairobi").num_qubits == 7


def test_shots_sweep_error_falls_with_shots(spec):
    rows = shots_sweep(spec, backend="aer", shots_list=[100, 10_000], seed=1)
    assert [r["shots"] for r in rows] == [100, 10_000]
    assert "estimate" not in rows[0]
    assert rows[1]["frobenius_raw"] < rows[0]["frobenius_raw"]
    assert rows[1]["shot_noise_frobenius"] == pytest.approx(rows[0]["shot_noise_frobenius"] / 10)
    with pytest.raises(ValueError, match="empty"):
        shots_sweep(spec, backend="aer", shots_list=[])
    with pytest.raises(ValueError, match="shots must be"):
        shots_sweep(spec, backend="aer", shots_list=[100, -1])


def test_aer_picks_the_gpu_when_qiskit_aer_gpu_provides_one(monkeypatch):
    from qiskit_aer import AerSimulator

    from qdsformer.hardware.account import aer_device

    monkeypatch.setattr(AerSimulator, "available_devices", lambda self: ("CPU", "GPU"))
    assert aer_device() == "GPU"
    monkeypatch.setattr(AerSimulator, "available_devices", lambda self: ("CPU",))
    assert aer_device() == "CPU"


def test_service_errors_never_show_the_token(monkeypatch):
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime.accounts import InvalidAccountError

    secret = "tok-SECRET-0123456789"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", secret)

    def invalid(**kwargs):
        raise InvalidAccountError(f"token {secret} was rejected")

    def offline(**kwargs):
        raise ConnectionError(f"POST https://auth?apikey={secret} failed")

    for fake, match in ((invalid, "could not be used"), (offline, "could not open")):
        monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", fake)
        with pytest.raises(ValueError, match=match) as info:
            runtime_service("ibm_quantum_platform")
        assert secret not in str(info.value) and "***" in str(info.value)


def test_missing_ibm_runtime_package_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime", None)  # import now fails
    with pytest.raises(ValueError, match=r"pip install 'qdsformer\[ibm\]'"):
        fake_backend("fake_nairobi")
    with pytest.raises(ValueError, match="ibm:<backend> needs qiskit-ibm-runtime"):
        runtime_service()


def test_noisy_aer_takes_the_density_matrix_only_where_it_is_cheaper():
    from qdsformer.hardware.runners import noisy_method

    assert noisy_method(10, 1000) == "density_matrix"  # 2^10 <= 4 * 1000
    assert noisy_method(10, 100) == "automatic"  # few shots: trajectories are cheaper
    assert noisy_method(14, 10**6) == "automatic"  # 4^14 entries: too much memory


def test_density_matrix_and_trajectories_sample_the_same_noisy_distribution(spec):
    """The method choice changes the cost, not the distribution: the two methods' frequencies
    on fake_nairobi agree within shot noise (a chi-square two-sample test would flag a
    different noise model: its statistic has mean ~ outcomes - 1)."""
    from qiskit.transpiler import generate_preset_pass_manager

    from qdsformer.hardware.bell import bell_readout_circuit
    from qdsformer.hardware.runners import AerRunner, active_qubits
    from qdsformer.hardware.shot_matrix import spec_angles, spec_ansatz

    runner = AerRunner(fake_backend("fake_nairobi"), seed=5)
    ansatz = spec_ansatz(spec)
    circuit = bell_readout_circuit(ansatz, spec_angles(spec), n_data_qubits=2,
                                   layout="parted")
    isa = generate_preset_pass_manager(backend=runner._target(), seed_transpiler=0,
                                       optimization_level=1).run(circuit)
    assert active_qubits(isa) == 6
    shots = 20_000
    counts, facts = runner._execute([isa], shots)
    assert facts["method"] == "density_matrix"
    other = runner.simulator.run([isa], shots=shots, seed_simulator=6,
                                 method="statevector").result()
    assert other.results[0].metadata["method"] == "statevector"
    a, b = counts[0], dict(other.get_counts(0))
    keys = sorted(set(a) | set(b))
    x = torch.tensor([a.get(k, 0) for k in keys], dtype=torch.float64)
    y = torch.tensor([b.get(k, 0) for k in keys], dtype=torch.float64)
    chi2 = float(((x - y) ** 2 / (x + y)).sum())  # two-sample, equal totals
    assert chi2 < 2 * (len(keys) - 1)
