"""Circuit run specs: the YAML files in ``circuits/`` as validated dataclasses.

A spec fixes everything needed to build the Bell-pair readout circuit of one QontOT doubly
stochastic matrix (DSM) and to run it: the circuit shape (tokens T, auxiliary qubits q_a,
ansatz, layers, layout), the score matrix M and the circuit parameters theta, a qubit budget,
and run defaults (backend, shots, seed, optimisation level, error suppression).

File layout (every key optional except ``name`` and ``circuit.n_tokens``)::

    name: dsm4_small
    description: free text
    circuit: {n_tokens: 4, n_aux_qubits: 1, n_layers: 2, ansatz: parted, layout: parted}
    scores: {seed: 0, std: 1.0}          # M ~ N(0, std^2), or {values: [[...], ...]}
    theta: {seed: 0, low: -1.0, high: 1.0}   # theta ~ U(low, high), or {values: [...]}
    qubit_budget: 14                     # most qubits the Bell circuit (2 q) may use
    run: {backend: aer, shots: 4000, seed: 0, optimization_level: 1,
          dynamical_decoupling: false, twirling: false, readout_mitigation: false}

Unknown keys and out-of-range values raise ``ValueError`` naming the key and what was expected.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import yaml

from qdsformer.common.checks import check_number
from qdsformer.quantum import n_data_qubits_for
from qdsformer.quantum.simulator import check_unitary_memory

LAYOUTS = ("direct", "parted")
BACKEND_KINDS = ("exact", "statevector", "aer", "aer-noisy", "ibm")


@dataclass(frozen=True)
class BackendChoice:
    """A parsed backend string: ``kind`` in :data:`BACKEND_KINDS`, ``name`` for the last two."""

    kind: str
    name: str | None = None

    def __str__(self) -> str:
        return self.kind if self.name is None else f"{self.kind}:{self.name}"


def parse_backend(backend: str) -> BackendChoice:
    """Parse ``exact``, ``statevector``, ``aer``, ``aer-noisy:<fake>`` or ``ibm:<name>``.

    Raises:
        ValueError: unknown kind, or a missing / unexpected ``:<name>`` part.
    """
    if not isinstance(backend, str) or not backend.strip():
        raise ValueError(f"backend must be a non-empty string, got {backend!r}")
    kind, sep, name = backend.strip().partition(":")
    if kind not in BACKEND_KINDS:
        raise ValueError(
            f"unknown backend {backend!r}; expected one of exact, statevector, aer, "
            "aer-noisy:<fake backend, e.g. fake_lagos>, ibm:<backend name>"
        )
    needs_name = kind in ("aer-noisy", "ibm")
    if needs_name and not name:
        raise ValueError(f"backend {backend!r} needs a name after ':', e.g. {kind}:fake_lagos")
    if not needs_name and sep:
        raise ValueError(f"backend {kind!r} takes no ':<name>' part, got {backend!r}")
    return BackendChoice(kind, name or None)


@dataclass(frozen=True)
class RunOptions:
    """Run defaults of a spec; every field can be overridden per call / on the command line."""

    backend: str = "aer"
    shots: int = 4000
    seed: int = 0
    optimization_level: int = 1
    dynamical_decoupling: bool = False
    twirling: bool = False
    readout_mitigation: bool = False

    def __post_init__(self) -> None:
        parse_backend(self.backend)
        check_shots(self.shots)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"run.seed must be an integer >= 0, got {self.seed!r}")
        if self.optimization_level not in (0, 1, 2, 3):
            raise ValueError(
                f"run.optimization_level must be 0, 1, 2 or 3, got {self.optimization_level!r}"
            )


#: The most shots one circuit may be sampled with. Samplers keep at least one 64-bit outcome
#: per shot before counting (:data:`SHOT_BYTES`), so 10^8 shots hold >= 0.8 GB per circuit;
#: 10^11 shots (>= 800 GB) ended in a Qiskit ``std::bad_alloc``. Split larger runs.
MAX_SHOTS = 10**8
#: Bytes a sampler holds per shot at least (one 64-bit outcome), for the memory estimate.
SHOT_BYTES = 8


def check_shots(shots: Any) -> int:
    """Return ``shots`` if it is an integer in [1, :data:`MAX_SHOTS`], else raise ``ValueError``.

    Above the bound the message gives the memory the samples would need.
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0:
        raise ValueError(f"shots must be an integer >= 1, got {shots!r}")
    if shots > MAX_SHOTS:
        need = shots * SHOT_BYTES / 2**30
        raise ValueError(f"shots={shots} would need at least {need:,.0f} GiB of memory for the "
                         f"samples ({SHOT_BYTES} bytes per shot); the bound is "
                         f"{MAX_SHOTS:,} shots per circuit")
    return shots


@dataclass(frozen=True)
class CircuitSpec:
    """One DSM circuit and how to run it (see the module docstring for the YAML layout).

    Attributes:
        name: file-name friendly identifier, used for result and QASM file names.
        n_tokens: T, the DSM is T x T; the data register has q_d = ceil(log2 T) qubits.
        n_aux_qubits: q_a, auxiliary qubits; V acts on q = q_d + q_a qubits.
        n_layers: circuit layers of the ansatz.
        ansatz: ansatz registry name (``qdsformer.quantum.get_ansatz``).
        layout: ``direct`` (all of V on D x A) or ``parted`` (first half of V, transposed, on
            the purification register D' x A', second half on D x A: half the depth).
        scores: the score matrix M, shape (T, T), float64.
        theta: circuit parameters, shape (n_params,), or None to draw them from ``theta_init``.
        theta_init: (seed, low, high) of theta ~ U(low, high) when ``theta`` is None.
        qubit_budget: the most qubits the Bell-pair circuit (2 q) may use, or None.
        run: run defaults.
        description: free text.
    """

    name: str
    n_tokens: int
    n_aux_qubits: int
    n_layers: int
    ansatz: str
    layout: str
    scores: torch.Tensor
    theta: torch.Tensor | None = None
    theta_init: tuple[int, float, float] = (0, -1.0, 1.0)
    qubit_budget: int | None = None
    run: RunOptions = field(default_factory=RunOptions)
    description: str = ""

    @property
    def n_data_qubits(self) -> int:
        """q_d = ceil(log2 T): the data register holds the padded size n = 2^q_d."""
        return n_data_qubits_for(self.n_tokens)

    @property
    def n_qubits(self) -> int:
        """q = q_d + q_a, the qubits V acts on."""
        return self.n_data_qubits + self.n_aux_qubits

    @property
    def n_circuit_qubits(self) -> int:
        """2 q: the Bell-pair readout circuit also holds the purification copy D' x A'."""
        return 2 * self.n_qubits

    def with_run(self, **overrides: Any) -> CircuitSpec:
        """A copy whose run options have ``overrides`` (``None`` values are ignored)."""
        kept = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, run=replace(self.run, **kept))

    def theta_vector(self, n_params: int) -> torch.Tensor:
        """theta as float64 (n_params,): the stored values, or seeded U(low, high) draws."""
        if self.theta is not None:
            if self.theta.numel() != n_params:
                raise ValueError(
                    f"spec {self.name!r}: theta has {self.theta.numel()} values but the "
                    f"{self.ansatz!r} ansatz with {self.n_qubits} qubits and {self.n_layers} "
                    f"layers needs {n_params}"
                )
            return self.theta.to(torch.float64)
        seed, low, high = self.theta_init
        gen = torch.Generator().manual_seed(seed)
        return low + (high - low) * torch.rand(n_params, generator=gen, dtype=torch.float64)


def _check_keys(section: str, given: dict, allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(
            f"unknown key(s) {unknown} in spec section {section!r}; expected some of "
            f"{sorted(allowed)}"
        )


def _positive_int(section: str, key: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{section}.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _number_values(key: str, values: Any) -> torch.Tensor:
    """A (nested) list of finite real numbers as float64, or one line naming the bad entry."""
    def walk(item: Any, where: tuple[int, ...]):
        if isinstance(item, (list, tuple)):
            return [walk(sub, where + (i,)) for i, sub in enumerate(item)]
        if (isinstance(item, bool) or not isinstance(item, numbers.Real)
                or not math.isfinite(float(item))):
            at = "".join(f"[{i}]" for i in where)
            raise ValueError(f"{key}{at} must be a finite number, got {item!r}")
        return float(item)

    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{key} must be a list of finite numbers, got {values!r}")
    try:
        return torch.as_tensor(walk(values, ()), dtype=torch.float64)
    except ValueError as err:
        if str(err).startswith(key):
            raise
        raise ValueError(f"{key} must be a rectangular list of numbers, got {values!r}") from err


def _scores_from(cfg: dict, n_tokens: int, source: str) -> torch.Tensor:
    _check_keys("scores", cfg, {"seed", "std", "values"})
    if "values" in cfg:
        scores = _number_values("scores.values", cfg["values"])
        if scores.shape != (n_tokens, n_tokens):
            raise ValueError(
                f"scores.values must be a {n_tokens}x{n_tokens} matrix (circuit.n_tokens = "
                f"{n_tokens}), got shape {tuple(scores.shape)}"
            )
    else:
        std = check_number(source, "scores.std", cfg.get("std", 1.0), low=0, low_open=True)
        gen = torch.Generator().manual_seed(_positive_int("scores", "seed", cfg.get("seed", 0), 0))
        scores = std * torch.randn(n_tokens, n_tokens, generator=gen, dtype=torch.float64)
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    return scores  # (T, T)


def spec_from_dict(data: dict, *, source: str = "<dict>") -> CircuitSpec:
    """Build and validate a :class:`CircuitSpec` from a parsed YAML mapping."""
    if not isinstance(data, dict):  # bad input is a ValueError throughout (project rule)
        raise ValueError(  # noqa: TRY004
            f"{source}: a circuit spec must be a mapping, got {type(data).__name__}")
    _check_keys("<top>", data,
                {"name", "description", "circuit", "scores", "theta", "qubit_budget", "run"})
    name = data.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ "):
        raise ValueError(f"{source}: name must be a non-empty string without spaces or "
                         f"slashes, got {name!r}")
    circuit = dict(data.get("circuit") or {})
    _check_keys("circuit", circuit, {"n_tokens", "n_aux_qubits", "n_layers", "ansatz", "layout"})
    if "n_tokens" not in circuit:
        raise ValueError(f"{source}: circuit.n_tokens (T of the T x T matrix) is required")
    n_tokens = _positive_int("circuit", "n_tokens", circuit["n_tokens"], 2)
    n_aux = _positive_int("circuit", "n_aux_qubits", circuit.get("n_aux_qubits", 1), 0)
    n_layers = _positive_int("circuit", "n_layers", circuit.get("n_layers", 1))
    n_qubits = n_data_qubits_for(n_tokens) + n_aux
    try:  # before anything of that size (the scores, a unitary, a state) is allocated
        check_unitary_memory(1, n_qubits, 16)
    except ValueError as err:
        raise ValueError(f"{source}: circuit.n_tokens = {n_tokens} with n_aux_qubits = "
                         f"{n_aux} makes a {n_qubits}-qubit circuit: {err}") from None
    ansatz = circuit.get("ansatz", "parted")
    layout = circuit.get("layout", "parted" if ansatz == "parted" else "direct")
    if layout not in LAYOUTS:
        raise ValueError(f"circuit.layout must be one of {LAYOUTS}, got {layout!r}")

    theta_cfg = dict(data.get("theta") or {})
    _check_keys("theta", theta_cfg, {"seed", "low", "high", "values"})
    theta = None
    if "values" in theta_cfg:
        theta = _number_values("theta.values", theta_cfg["values"]).reshape(-1)
    low = check_number(source, "theta.low", theta_cfg.get("low", -1.0))
    high = check_number(source, "theta.high", theta_cfg.get("high", 1.0))
    if not low < high:
        raise ValueError(f"theta.low must be < theta.high, got low={low}, high={high}")
    theta_init = (_positive_int("theta", "seed", theta_cfg.get("seed", 0), 0), low, high)

    run_cfg = dict(data.get("run") or {})
    _check_keys("run", run_cfg, {f.name for f in fields(RunOptions)})
    budget = data.get("qubit_budget")
    if budget is not None:
        budget = _positive_int("<top>", "qubit_budget", budget, 2)

    spec = CircuitSpec(
        name=name,
        n_tokens=n_tokens,
        n_aux_qubits=n_aux,
        n_layers=n_layers,
        ansatz=str(ansatz),
        layout=layout,
        scores=_scores_from(dict(data.get("scores") or {}), n_tokens, source),
        theta=theta,
        theta_init=theta_init,
        qubit_budget=budget,
        run=RunOptions(**run_cfg),
        description=str(data.get("description", "")),
    )
    check_qubit_budget(spec)
    return spec


def check_qubit_budget(spec: CircuitSpec, available: int | None = None, where: str = "") -> None:
    """Raise ``ValueError`` when the Bell circuit (2 q qubits) exceeds a budget.

    Args:
        spec: the spec; its own ``qubit_budget`` is always checked.
        available: qubits of a target device, checked too when given.
        where: the device name for the message.
    """
    need = spec.n_circuit_qubits
    for limit, what in ((spec.qubit_budget, "the spec's qubit_budget"),
                        (available, f"backend {where}")):
        if limit is not None and need > limit:
            raise ValueError(
                f"spec {spec.name!r}: T = {spec.n_tokens} needs q_d = {spec.n_data_qubits} data "
                f"+ {spec.n_aux_qubits} auxiliary qubits, so 2 x {spec.n_qubits} = {need} "
                f"qubits with Bell pairs, but {what} allows {limit}"
            )


def load_spec(path: str | Path) -> CircuitSpec:
    """Read and validate a circuit spec YAML file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"circuit spec file {str(path)!r} does not exist")
    with path.open() as fh:
        data = yaml.safe_load(fh)
    return spec_from_dict(data, source=str(path))
