"""Estimating QontOT matrices on circuit backends: the entry points of :mod:`qdsformer.hardware`.

:func:`run_dsm` runs one :class:`~qdsformer.hardware.spec.CircuitSpec` on a backend and returns
the exact and the estimated matrix; :func:`estimate_dsms` estimates a batch of matrices in one
batch of Bell-pair circuits on a runner (the hardware-in-the-loop path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from qdsformer.hardware.assignment import correct_readout
from qdsformer.hardware.bell import (
    bell_readout_circuit,
    counts_to_frequencies,
    frequencies_to_dsm,
    spec_ansatz,
)
from qdsformer.hardware.factory import make_runner
from qdsformer.hardware.runners import StatevectorRunner
from qdsformer.hardware.spec import (
    BackendChoice,
    CircuitSpec,
    check_qubit_budget,
    check_shots,
    parse_backend,
)
from qdsformer.quantum import encode_angles, qontot_dsm


@dataclass
class DSMRun:
    """The outcome of :func:`run_dsm`.

    Attributes:
        spec: the spec that was run (run options resolved).
        backend: the backend string.
        shots: shots per circuit (None for ``exact`` / ``statevector``).
        exact: the exact P from our simulator, (T, T) float64.
        estimate: the estimate from the circuit (readout-corrected with readout_mitigation,
            never Birkhoff-projected), (T, T) float64.
        counts: outcome counts {bitstring of register c: count}, None without shots.
        metadata: backend facts (transpiled depth, two-qubit gates, qubits, device, job id).
    """

    spec: CircuitSpec
    backend: str
    shots: int | None
    exact: torch.Tensor
    estimate: torch.Tensor
    counts: dict[str, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def spec_angles(spec: CircuitSpec) -> torch.Tensor:
    """Circuit angles phi = theta * tile(vec(M)) of ``spec``, (n_params,) float64."""
    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)  # (n_params,)
    return encode_angles(spec.scores, theta)  # (n_params,)


def exact_dsm(spec: CircuitSpec) -> torch.Tensor:
    """The exact T x T QontOT matrix of ``spec`` from our torch simulator, float64."""
    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)  # (n_params,)
    return qontot_dsm(spec.scores, theta, ansatz)  # (T, T)


def estimate_dsms(ansatz, angles: torch.Tensor, *, n_data_qubits: int, n_tokens: int,
                  runner, shots: int | None, layout: str = "parted"
                  ) -> tuple[torch.Tensor, list[dict[str, int]], dict]:
    """Estimate many QontOT matrices in one batch of Bell-pair circuits.

    Args:
        ansatz: the ``qdsformer.quantum`` ansatz on q = q_d + q_a qubits.
        angles: (N, n_params) encoded angles, one circuit each.
        n_data_qubits: q_d.
        n_tokens: T (<= 2^q_d).
        runner: a runner from :func:`make_runner` (``sample(circuits, shots)``).
        shots: shots per circuit (None only for :class:`StatevectorRunner`).
        layout: ``direct`` or ``parted``.

    Returns:
        (estimates (N, T, T) float64, counts per circuit (raw), run facts). When the runner
        measured readout rates, the frequencies are corrected before the estimate is formed
        (``readout_rates`` in the facts becomes the mean [Pr(1|0), Pr(0|1)] per bit).
    """
    if not isinstance(runner, StatevectorRunner):
        check_shots(shots)
    circuits = [bell_readout_circuit(ansatz, a, n_data_qubits=n_data_qubits, layout=layout)
                for a in angles]
    counts, facts = runner.sample(circuits, shots)
    freq = torch.stack([counts_to_frequencies(c, n_data_qubits=n_data_qubits)
                        for c in counts])  # (N, n*n)
    if "readout_rates" in facts:
        rates = torch.tensor(facts["readout_rates"], dtype=torch.float64)  # (N, 2 q_d, 2)
        freq = correct_readout(freq, rates)  # (N, n*n)
        facts["readout_rates"] = rates.mean(0).tolist()
    return frequencies_to_dsm(freq, n_tokens=n_tokens), counts, facts  # (N, T, T)


def resolved_run(spec: CircuitSpec, **overrides) -> tuple[CircuitSpec, BackendChoice]:
    """``spec`` with its run options overridden (None keeps a value) and its parsed backend.

    Raises:
        ValueError: unknown backend, bad shots, or a circuit above the qubit budget.
    """
    spec = spec.with_run(**overrides)
    choice = parse_backend(spec.run.backend)
    check_qubit_budget(spec)
    return spec, choice


def backend_runner(spec: CircuitSpec, choice: BackendChoice, *, ibm_channel: str | None = None,
                   service=None) -> tuple[Any, int | None]:
    """The runner of a non-exact backend for ``spec.run`` and the shots it takes.

    Returns ``(runner, shots)``, shots None for ``statevector`` (exact probabilities).

    Raises:
        ValueError: the circuit does not fit the device, or no IBM account configured.
    """
    opts = spec.run
    runner = make_runner(choice, seed=opts.seed, optimization_level=opts.optimization_level,
                         dynamical_decoupling=opts.dynamical_decoupling,
                         twirling=opts.twirling, readout_mitigation=opts.readout_mitigation,
                         ibm_channel=ibm_channel, service=service)
    check_qubit_budget(spec, runner.num_qubits, str(choice))
    return runner, None if choice.kind == "statevector" else opts.shots


def run_dsm(spec: CircuitSpec, *, backend: str | None = None, shots: int | None = None,
            seed: int | None = None, optimization_level: int | None = None,
            dynamical_decoupling: bool | None = None, twirling: bool | None = None,
            readout_mitigation: bool | None = None, ibm_channel: str | None = None,
            service=None) -> DSMRun:
    """Estimate the QontOT matrix of ``spec`` on a backend (arguments override ``spec.run``).

    Args:
        spec: the circuit spec (:func:`qdsformer.hardware.load_spec`).
        backend: ``exact``, ``statevector``, ``aer``, ``aer-noisy:<fake>`` or ``ibm:<name>``.
        shots: shots per circuit (>= 1); ignored by ``exact`` / ``statevector``.
        seed: seeds the transpiler and the simulator.
        optimization_level: preset pass manager level 0-3.
        dynamical_decoupling: XY4 dynamical decoupling (runtime Sampler).
        twirling: Pauli twirling of gates and measurements (runtime Sampler).
        readout_mitigation: calibrate the measured qubits' readout errors in the same batch
            and invert them before the estimate is formed.
        ibm_channel: account channel for ``ibm:``; ``local`` = offline fake backends.
        service: an existing ``QiskitRuntimeService`` to use for ``ibm:`` instead.

    Returns:
        A :class:`DSMRun` with the exact P and the raw estimate, both (T, T) float64.

    Raises:
        ValueError: unknown backend, shots <= 0, the circuit does not fit the qubit budget or
            the device, or no IBM account configured.
    """
    spec, choice = resolved_run(spec, backend=backend, shots=shots, seed=seed,
                                optimization_level=optimization_level,
                                dynamical_decoupling=dynamical_decoupling, twirling=twirling,
                                readout_mitigation=readout_mitigation)
    opts = spec.run
    exact = exact_dsm(spec)  # (T, T)
    if choice.kind == "exact":
        return DSMRun(spec, str(choice), None, exact, exact.clone(), None,
                      {"simulator": "qdsformer.quantum (torch)"})
    runner, shots = backend_runner(spec, choice, ibm_channel=ibm_channel, service=service)
    estimates, counts, facts = estimate_dsms(
        spec_ansatz(spec), spec_angles(spec)[None], n_data_qubits=spec.n_data_qubits,
        n_tokens=spec.n_tokens, runner=runner, shots=shots, layout=spec.layout)
    facts.update(n_circuit_qubits=spec.n_circuit_qubits, layout=spec.layout, seed=opts.seed,
                 optimization_level=opts.optimization_level,
                 readout_mitigation=opts.readout_mitigation)
    return DSMRun(spec, str(choice), shots, exact, estimates[0],
                  None if shots is None else counts[0], facts)
