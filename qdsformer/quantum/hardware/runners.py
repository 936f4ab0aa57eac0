"""Runners: sample Bell-pair readout circuits on Aer, noisy fake IBM backends or IBM hardware.

One entry point, :func:`run_dsm`, estimates the QontOT matrix of a :class:`CircuitSpec` on

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
qubits' readout errors (:mod:`qdsformer.quantum.hardware.assignment`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from qdsformer.quantum.hardware.bell import (
    CREG,
    bell_readout_circuit,
    counts_to_frequencies,
    exact_frequencies,
    frequencies_to_dsm,
    spec_ansatz,
)
from qdsformer.quantum.hardware.spec import (
    BackendChoice,
    CircuitSpec,
    check_qubit_budget,
    check_shots,
    parse_backend,
)

log = logging.getLogger(__name__)

NO_ACCOUNT_HELP = (
    "no IBM Quantum account is configured: save one once with "
    "QiskitRuntimeService.save_account(channel='ibm_quantum_platform', token=..., "
    "instance=...) or set the environment variables QISKIT_IBM_TOKEN and QISKIT_IBM_INSTANCE; "
    "for an offline dry run use the runtime's local mode with a fake backend "
    "(backend 'ibm:fake_lagos' with ibm_channel='local', CLI: --ibm-channel local)"
)


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
    from qdsformer.quantum import encode_angles

    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)  # (n_params,)
    return encode_angles(spec.scores, theta)  # (n_params,)


def exact_dsm(spec: CircuitSpec) -> torch.Tensor:
    """The exact T x T QontOT matrix of ``spec`` from our torch simulator, float64."""
    from qdsformer.quantum import qontot_dsm

    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)  # (n_params,)
    return qontot_dsm(spec.scores, theta, ansatz)  # (T, T)


# --------------------------------------------------------------------------- backends
def _require_runtime(what: str) -> None:
    """Raise ``ValueError`` with the install line when qiskit-ibm-runtime is missing."""
    try:
        import qiskit_ibm_runtime  # noqa: F401
    except ImportError:
        raise ValueError(f"{what} needs qiskit-ibm-runtime: pip install 'qdsformer[ibm]'"
                         ) from None


def fake_backend(name: str):
    """A ``qiskit_ibm_runtime.fake_provider`` backend by name: ``fake_lagos``, ``FakeLagosV2``,
    ``lagos`` or ``fake_torino``. Raises ``ValueError`` listing the known names otherwise."""
    import inspect

    _require_runtime("aer-noisy:<fake backend>")
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    classes = {}
    for cls_name, cls in vars(fake_provider).items():
        if inspect.isclass(cls) and issubclass(cls, FakeBackendV2) and cls is not FakeBackendV2:
            classes[cls_name[4:].removesuffix("V2").lower()] = cls
    base = name.strip().lower().removeprefix("fake").lstrip("_").removesuffix("v2")
    if base not in classes:
        known = ", ".join(f"fake_{k}" for k in sorted(classes))
        raise ValueError(f"unknown fake backend {name!r}; known: {known}")
    return classes[base]()


def aer_device() -> str:
    """``GPU`` when qiskit-aer-gpu provides one, else ``CPU``."""
    from qiskit_aer import AerSimulator

    return "GPU" if "GPU" in AerSimulator().available_devices() else "CPU"


def runtime_service(channel: str | None = None, account_name: str | None = None):
    """A ``QiskitRuntimeService`` from the saved account or the environment (never logged).

    Args:
        channel: ``None`` (saved default / environment), ``ibm_quantum_platform``,
            ``ibm_cloud``, or ``local`` (offline testing mode with fake backends).
        account_name: a named saved account.

    Raises:
        ValueError: no account configured (with how to configure one), an invalid account, the
            service unreachable, or a bad channel. Messages never contain the token.
    """
    _require_runtime("ibm:<backend>")
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts import AccountNotFoundError, InvalidAccountError

    if channel not in (None, "local", "ibm_quantum_platform", "ibm_cloud"):
        raise ValueError(f"ibm channel must be local, ibm_quantum_platform or ibm_cloud, "
                         f"got {channel!r}")
    if channel == "local":
        return QiskitRuntimeService(channel="local")
    try:
        return QiskitRuntimeService(channel=channel, name=account_name)
    except AccountNotFoundError:
        raise ValueError(NO_ACCOUNT_HELP) from None
    except InvalidAccountError as err:
        raise ValueError(f"the IBM Quantum account could not be used: {_scrub(err)}; check "
                         "the saved account or QISKIT_IBM_TOKEN / QISKIT_IBM_INSTANCE") from None
    except Exception as err:  # noqa: BLE001 - network / service errors, reported without secrets
        raise ValueError(f"could not open the IBM Quantum service ({type(err).__name__}: "
                         f"{_scrub(err)}); check the network, token and instance") from None


def _scrub(err: BaseException) -> str:
    """The error's message with the token from the environment, if any, masked."""
    import os

    text = str(err)
    token = os.environ.get("QISKIT_IBM_TOKEN")
    return text.replace(token, "***") if token else text


def _circuit_facts(circuits: Sequence) -> dict[str, Any]:
    first = circuits[0]
    ops = first.count_ops()
    two_qubit = sum(1 for inst in first.data if inst.operation.num_qubits == 2
                    and inst.operation.name not in ("barrier", "measure"))
    return {"transpiled_depth": first.depth(), "transpiled_two_qubit_gates": two_qubit,
            "transpiled_ops": {k: int(v) for k, v in ops.items()}}


class StatevectorRunner:
    """Exact outcome probabilities of each Bell circuit (no shots, no noise)."""

    num_qubits = None

    def sample(self, circuits: Sequence, shots: int | None = None
               ) -> tuple[list[dict[int, float]], dict]:
        """{outcome index i*n+j: probability} per circuit (``shots`` is ignored), run facts."""
        out = []
        for circuit in circuits:
            q_d = circuit.cregs[0].size // 2
            freq = exact_frequencies(circuit, circuit.num_qubits // 2, q_d)  # (n*n,)
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

        from qdsformer.quantum.hardware.assignment import (
            calibration_circuits,
            measured_physical_qubits,
            readout_rates,
        )

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

    def __init__(self, noise_backend=None, seed: int = 0, optimization_level: int = 1,
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
        result = self.simulator.run(isa, shots=shots, seed_simulator=self.seed).result()
        facts = {"device": self.device}
        if self.noise_backend is not None:
            facts["noise_backend"] = self.noise_backend.name
        return [dict(result.get_counts(k)) for k in range(len(isa))], facts


class RuntimeRunner(_TranspilingRunner):
    """qiskit-ibm-runtime's executor-based ``Sampler`` in batch mode on one backend.

    With a real backend the circuits go to IBM hardware; with a fake backend (the runtime's
    local mode) they run on Aer with its noise model, through the same code path.
    """

    def __init__(self, backend, seed: int = 0, optimization_level: int = 1,
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


def make_runner(choice: BackendChoice, *, seed: int, optimization_level: int,
                dynamical_decoupling: bool = False, twirling: bool = False,
                readout_mitigation: bool = False, ibm_channel: str | None = None,
                service=None):
    """The runner for a parsed backend (all kinds but ``exact``, which has no circuit).

    ``readout_mitigation`` adds readout-calibration circuits to every batch (ignored by the
    noiseless ``statevector``); see :mod:`qdsformer.quantum.hardware.assignment`.
    """
    if choice.kind == "statevector":
        return StatevectorRunner()
    if choice.kind == "aer":
        if dynamical_decoupling or twirling:
            raise ValueError("dynamical decoupling / twirling need a device backend: use "
                             "aer-noisy:<fake> or ibm:<name>, not the ideal 'aer'")
        return AerRunner(None, seed=seed, optimization_level=optimization_level,
                         readout_mitigation=readout_mitigation)
    if choice.kind == "aer-noisy":
        backend = fake_backend(choice.name)
        if dynamical_decoupling or twirling:
            return RuntimeRunner(backend, seed, optimization_level, dynamical_decoupling,
                                 twirling, readout_mitigation)
        return AerRunner(backend, seed=seed, optimization_level=optimization_level,
                         readout_mitigation=readout_mitigation)
    if choice.kind == "ibm":
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        if service is None and ibm_channel == "local":  # the local service's own lookup
            backend = fake_backend(choice.name)  # builds every fake backend; this builds one
        else:
            service = service if service is not None else runtime_service(ibm_channel)
            try:
                backend = service.backend(choice.name)
            except QiskitBackendNotFoundError as err:
                raise ValueError(f"IBM backend {choice.name!r} is not available to this "
                                 f"account ({type(err).__name__}: {err})") from None
        return RuntimeRunner(backend, seed, optimization_level, dynamical_decoupling, twirling,
                             readout_mitigation)
    raise ValueError(f"backend {choice} has no circuit runner")


# --------------------------------------------------------------------------- entry point
def estimate_dsms(ansatz, angles: torch.Tensor, n_data_qubits: int, n_tokens: int,
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
    circuits = [bell_readout_circuit(ansatz, a, n_data_qubits, layout) for a in angles]
    counts, facts = runner.sample(circuits, shots)
    freq = torch.stack([counts_to_frequencies(c, n_data_qubits) for c in counts])  # (N, n*n)
    if "readout_rates" in facts:
        from qdsformer.quantum.hardware.assignment import correct_readout

        rates = torch.tensor(facts["readout_rates"], dtype=torch.float64)  # (N, 2 q_d, 2)
        freq = correct_readout(freq, rates)  # (N, n*n)
        facts["readout_rates"] = rates.mean(0).tolist()
    return frequencies_to_dsm(freq, n_tokens), counts, facts  # (N, T, T)


def run_dsm(spec: CircuitSpec, backend: str | None = None, shots: int | None = None,
            seed: int | None = None, optimization_level: int | None = None,
            dynamical_decoupling: bool | None = None, twirling: bool | None = None,
            readout_mitigation: bool | None = None, ibm_channel: str | None = None,
            service=None) -> DSMRun:
    """Estimate the QontOT matrix of ``spec`` on a backend (arguments override ``spec.run``).

    Args:
        spec: the circuit spec (:func:`qdsformer.quantum.hardware.load_spec`).
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
    spec = spec.with_run(backend=backend, shots=shots, seed=seed,
                         optimization_level=optimization_level,
                         dynamical_decoupling=dynamical_decoupling, twirling=twirling,
                         readout_mitigation=readout_mitigation)
    opts = spec.run
    choice = parse_backend(opts.backend)
    check_qubit_budget(spec)
    exact = exact_dsm(spec)  # (T, T)
    if choice.kind == "exact":
        return DSMRun(spec, str(choice), None, exact, exact.clone(), None,
                      {"simulator": "qdsformer.quantum (torch)"})
    runner = make_runner(choice, seed=opts.seed, optimization_level=opts.optimization_level,
                         dynamical_decoupling=opts.dynamical_decoupling,
                         twirling=opts.twirling, readout_mitigation=opts.readout_mitigation,
                         ibm_channel=ibm_channel, service=service)
    check_qubit_budget(spec, runner.num_qubits, str(choice))
    shots = None if choice.kind == "statevector" else opts.shots
    estimates, counts, facts = estimate_dsms(spec_ansatz(spec), spec_angles(spec)[None],
                                             spec.n_data_qubits, spec.n_tokens, runner, shots,
                                             spec.layout)
    facts.update(n_circuit_qubits=spec.n_circuit_qubits, layout=spec.layout, seed=opts.seed,
                 optimization_level=opts.optimization_level,
                 readout_mitigation=opts.readout_mitigation)
    return DSMRun(spec, str(choice), shots, exact, estimates[0],
                  None if shots is None else counts[0], facts)
