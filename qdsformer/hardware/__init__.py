"""Circuits on simulators and hardware: Bell-pair readout, runners, mitigation, specs.

A library package above ``quantum``, ``ot`` and ``analysis`` (for the metrics).

    spec = load_spec("circuits/dsm4_small.yaml")
    run = run_dsm(spec, backend="aer-noisy:fake_lagos", shots=4000, seed=1)
    record = summarize(run)          # exact / estimate / mitigated + Frobenius, Spearman, ...

Backends: ``exact`` (our torch simulator), ``statevector`` (exact probabilities of the Bell
circuit), ``aer`` (ideal, shots; GPU with qiskit-aer-gpu), ``aer-noisy:<fake backend>``
(``qiskit_ibm_runtime.fake_provider`` noise, offline) and ``ibm:<backend>`` (qiskit-ibm-runtime
executor Sampler, batch mode; ``ibm_channel="local"`` runs fake backends offline).
Mitigation: readout-error inversion (``readout_mitigation=True``, :mod:`.assignment`) and the
Birkhoff projection (:func:`mitigate`). Gradients: :func:`parameter_shift` (:mod:`.shift`),
dP/dtheta and dP/dM by the two-term shift rule per gate, all circuits in one batch.
Hardware in the loop (:mod:`.loop`): a QontOT ViT's attention layers estimated by circuits on
any runner. Qiskit and qiskit-ibm-runtime are
imported inside the functions that use them. This package never imports ``models``,
``data`` or an application: hardware-in-the-loop evaluation of a model lives in
:mod:`qdsformer.apps.evaluate`.
"""

from qdsformer.hardware.account import fake_backend, runtime_service
from qdsformer.hardware.assignment import correct_readout, readout_rates
from qdsformer.hardware.bell import (
    bell_readout_circuit,
    counts_to_frequencies,
    exact_frequencies,
    frequencies_to_dsm,
    spec_ansatz,
)
from qdsformer.hardware.factory import make_runner
from qdsformer.hardware.loop import (
    RunnerNormalizer,
    evaluate_attention_backends,
    runner_attention,
)
from qdsformer.hardware.mitigation import (
    compare,
    expected_shot_noise,
    mitigate,
    shots_sweep,
    summarize,
)
from qdsformer.hardware.runners import AerRunner, RuntimeRunner, StatevectorRunner
from qdsformer.hardware.shift import ShiftResult, parameter_shift, summarize_shift
from qdsformer.hardware.shot_matrix import DSMRun, estimate_dsms, exact_dsm, run_dsm, spec_angles
from qdsformer.hardware.spec import (
    BackendChoice,
    CircuitSpec,
    RunOptions,
    check_qubit_budget,
    check_shots,
    load_spec,
    parse_backend,
    spec_from_dict,
)

__all__ = [
    "AerRunner",
    "BackendChoice",
    "CircuitSpec",
    "DSMRun",
    "RunOptions",
    "RunnerNormalizer",
    "RuntimeRunner",
    "ShiftResult",
    "StatevectorRunner",
    "bell_readout_circuit",
    "check_qubit_budget",
    "check_shots",
    "compare",
    "correct_readout",
    "counts_to_frequencies",
    "estimate_dsms",
    "evaluate_attention_backends",
    "exact_dsm",
    "exact_frequencies",
    "expected_shot_noise",
    "fake_backend",
    "frequencies_to_dsm",
    "load_spec",
    "make_runner",
    "mitigate",
    "parameter_shift",
    "parse_backend",
    "readout_rates",
    "run_dsm",
    "runner_attention",
    "runtime_service",
    "shots_sweep",
    "spec_angles",
    "spec_ansatz",
    "spec_from_dict",
    "summarize",
    "summarize_shift",
]
