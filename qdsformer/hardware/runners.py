"""Runners: sample Bell-pair readout circuits on Aer, noisy fake IBM backends or IBM hardware.

The runner classes sample the Bell-pair circuits with which :func:`qdsformer.hardware.run_dsm`
estimates the QontOT matrix of a :class:`CircuitSpec` on

- ``exact``: our torch simulator (the training path), no circuit;
- ``statevector``: exact outcome probabilities of the Bell circuit (``qiskit.quantum_info``);
- ``aer``: the ideal Aer simulator with shots (on the GPU when ``qiskit-aer-gpu`` is installed);
- ``aer-noisy:<fake>``: Aer with the noise model, coupling map and basis gates of a
  ``qiskit_ibm_runtime.fake_provider`` backend (offline), e.g. ``aer-noisy:fake_lagos``;
- ``ibm:<name>``: an IBM backend through qiskit-ibm-runtime's executor-based ``Sampler``
  (``qiskit_ibm_runtime.executor_sampler``) in batch mode. The account comes from the saved
  Qiskit account or the ``QISKIT_IBM_TOKEN`` / ``QISKIT_IBM_INSTANCE`` environment variables
  and is never printed or written. ``ibm_channel="local"`` gives the runtime's local testing
  mode, where ``<name>`` is a fake backend (``ibm:fake_lagos``): the same code path, offline.

Circuits are transpiled to the backend's ISA with a preset pass manager (``optimization_level``,
seeded). Dynamical decoupling and Pauli twirling are options of the runtime Sampler; asking for
them with ``aer-noisy:<fake>`` runs the same fake backend through the runtime's local mode.
``readout_mitigation`` adds two calibration circuits per batch and inverts the measured
qubits' readout errors (:mod:`qdsformer.hardware.assignment`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from qdsformer.hardware.account import aer_device
from qdsformer.hardware.assignment import (
    calibration_circuits,
    measured_physical_qubits,
    readout_rates,
)
from qdsformer.hardware.bell import CREG, exact_frequencies

log = logging.getLogger(__name__)


def _circuit_facts(circuits: Sequence) -> dict[str, Any]:
    first = circuits[0]
    ops = first.count_ops()
    two_qubit = sum(1 for inst in first.data if inst.operation.num_qubits == 2
                    and inst.operation.name not in ("barrier", "measure"))
    return {"transpiled_depth": first.depth(), "transpiled_two_qubit_gates": two_qubit,
            "transpiled_ops": {k: int(v) for k, v in ops.items()}}


DENSITY_MATRIX_MAX_QUBITS = 12  # 4^12 complex128 entries = 256 MiB


def active_qubits(circuit) -> int:
    """Number of qubits an (ISA) circuit acts on; Aer simulates only these."""
    return len({circuit.find_bit(q).index for inst in circuit.data for q in inst.qubits})


def noisy_method(n_active: int, shots: int) -> str:
    """Aer method for a noisy run: one density-matrix simulation, or one noisy trajectory per shot.

    A density matrix costs about (2^n)^2 per gate whatever the shots; trajectories cost about
    shots * 2^n. Aer's ``automatic`` choice takes trajectories while shots < 2^n, which for the
    10-qubit Bell-pair circuits of an 8x8 matrix with 2 auxiliary qubits on fake_torino at 1000
    shots was 4x slower than the density matrix (same sampled distribution, 8 circuits: 64 s
    vs 16 s on a shared core). So: density matrix while 2^n <= 4 * shots and n <= 12.
    """
    if n_active <= DENSITY_MATRIX_MAX_QUBITS and 2 ** n_active <= 4 * shots:
        return "density_matrix"
    return "automatic"


class StatevectorRunner:
    """Exact outcome probabilities of each Bell circuit (no shots, no noise)."""

    num_qubits = None

    def sample(self, circuits: Sequence, shots: int | None = None
               ) -> tuple[list[dict[int, float]], dict]:
        """{outcome index i*n+j: probability} per circuit (``shots`` is ignored), run facts."""
        out = []
        for circuit in circuits:
            q_d = circuit.cregs[0].size // 2
            freq = exact_frequencies(circuit, n_qubits=circuit.num_qubits // 2,
                                     n_data_qubits=q_d)  # (n*n,)
            out.append(dict(enumerate(freq.tolist())))
        return out, {"simulator": "qiskit.quantum_info.Statevector",
                     "circuit_depth": circuits[0].depth()}


class _TranspilingRunner:
    """Shared by the device runners: transpile to the target's ISA (seeded), optionally add
    readout-calibration circuits to the same batch, execute, split the counts."""

    seed: int
    optimization_level: int
    readout_mitigation: bool

    def _target(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _execute(self, isa: list, shots: int) -> tuple[list[dict[str, int]], dict]:
        raise NotImplementedError  # pragma: no cover - abstract

    def sample(self, circuits: Sequence, shots: int) -> tuple[list[dict[str, int]], dict]:
        """Counts of register ``c`` for each circuit, and run facts.

        With ``readout_mitigation`` the facts carry ``readout_rates``: per circuit a
        (2 q_d, 2) list of [Pr(1|0), Pr(0|1)] of its measured qubits, measured by two
        calibration circuits per distinct set of measured physical qubits.
        """
        from qiskit.transpiler import generate_preset_pass_manager


        pm = generate_preset_pass_manager(backend=self._target(), seed_transpiler=self.seed,
                                          optimization_level=self.optimization_level)
        isa = pm.run(list(circuits))
        facts = _circuit_facts(isa)
        qubit_sets = [measured_physical_qubits(c) for c in isa]
        distinct = list(dict.fromkeys(qubit_sets)) if self.readout_mitigation else []
        extra = [c for qs in distinct for c in calibration_circuits(isa[0].num_qubits, qs, CREG)]
        counts, run_facts = self._execute(isa + extra, shots)
        facts.update(run_facts)
        if distinct:
            cal = counts[len(isa):]
            rates = {qs: readout_rates(cal[2 * k], cal[2 * k + 1], len(qs))
                     for k, qs in enumerate(distinct)}
            facts["readout_rates"] = [rates[qs].tolist() for qs in qubit_sets]
            counts = counts[:len(isa)]
        facts["measured_qubits"] = list(distinct[0] if distinct else qubit_sets[0])
        return counts, facts


class AerRunner(_TranspilingRunner):
    """Aer with shots, ideal or with a fake backend's noise model, transpiled and seeded."""

    def __init__(self, noise_backend=None, *, seed: int = 0, optimization_level: int = 1,
                 device: str | None = None, readout_mitigation: bool = False) -> None:
        from qiskit_aer import AerSimulator

        self.device = device or aer_device()
        self.noise_backend = noise_backend
        self.seed = seed
        self.optimization_level = optimization_level
        self.readout_mitigation = readout_mitigation
        if noise_backend is None:
            self.simulator = AerSimulator(device=self.device)
        else:
            self.simulator = AerSimulator.from_backend(noise_backend, device=self.device)
        self.num_qubits = None if noise_backend is None else noise_backend.num_qubits

    def _target(self):
        return self.noise_backend if self.noise_backend is not None else self.simulator

    def _execute(self, isa: list, shots: int) -> tuple[list[dict[str, int]], dict]:
        method = "automatic"
        if self.noise_backend is not None:
            method = noisy_method(max(active_qubits(c) for c in isa), shots)
        result = self.simulator.run(isa, shots=shots, seed_simulator=self.seed,
                                    method=method).result()
        facts = {"device": self.device, "method": result.results[0].metadata.get("method")}
        if self.noise_backend is not None:
            facts["noise_backend"] = self.noise_backend.name
        return [dict(result.get_counts(k)) for k in range(len(isa))], facts


class RuntimeRunner(_TranspilingRunner):
    """qiskit-ibm-runtime's executor-based ``Sampler`` in batch mode on one backend.

    With a real backend the circuits go to IBM hardware; with a fake backend (the runtime's
    local mode) they run on Aer with its noise model, through the same code path.
    """

    def __init__(self, backend, *, seed: int = 0, optimization_level: int = 1,
                 dynamical_decoupling: bool = False, twirling: bool = False,
                 readout_mitigation: bool = False) -> None:
        self.backend = backend
        self.seed = seed
        self.optimization_level = optimization_level
        self.dynamical_decoupling = dynamical_decoupling
        self.twirling = twirling
        self.readout_mitigation = readout_mitigation
        self.num_qubits = backend.num_qubits

    def _target(self):
        return self.backend

    def _execute(self, isa: list, shots: int) -> tuple[list[dict[str, int]], dict]:
        """All circuits in one batch (one job); counts of register ``c``."""
        from qiskit_ibm_runtime import Batch
        from qiskit_ibm_runtime.executor_sampler import Sampler

        with Batch(backend=self.backend) as batch:
            sampler = Sampler(mode=batch)
            sampler.options.default_shots = shots
            if _is_local(self.backend):  # simulator options only exist in local mode
                sampler.options.simulator.seed_simulator = self.seed
            if self.dynamical_decoupling:
                sampler.options.dynamical_decoupling.enable = True
                sampler.options.dynamical_decoupling.sequence_type = "XY4"
            if self.twirling:
                sampler.options.twirling.enable_gates = True
                sampler.options.twirling.enable_measure = True
            job = sampler.run(isa, shots=shots)
            log.info("submitted %d circuits to %s", len(isa), self.backend.name)
            results = job.result()
        counts = [dict(getattr(pub.data, CREG).get_counts()) for pub in results]
        facts = {"device": self.backend.name, "dynamical_decoupling": self.dynamical_decoupling,
                 "twirling": self.twirling}
        job_id = getattr(job, "job_id", None)
        if callable(job_id):
            facts["job_id"] = str(job_id())
        return counts, facts


def _is_local(backend) -> bool:
    """True for fake backends and Aer simulators (the runtime's local testing mode)."""
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    return isinstance(backend, (FakeBackendV2, AerSimulator))
