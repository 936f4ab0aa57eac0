"""Parameter-shift gradients of a QontOT matrix on any circuit runner.

For a :class:`~qdsformer.hardware.spec.CircuitSpec` the Bell-pair readout estimates
P(phi), phi = theta * tile(vec(M)) (``qdsformer.quantum.encode_angles``). Every gate of every
ansatz is ``exp(-i alpha G / 2)`` with G a Pauli string (eigenvalues +-1, generator
eigenvalues +-1/2) and gate angle ``alpha_g = c_g phi_{p(g)}`` (a fixed coefficient c_g:
+-1, or +-1/2 for the Trotter half steps and transposed blocks), so the outcome probabilities
of the circuit, hence the untruncated n x n estimate, obey the two-term rule per gate

    dP/d alpha_g = [P(alpha_g + pi/2) - P(alpha_g - pi/2)] / 2,

and by the chain rule

    dP/d phi_p   = sum over gates g with p(g) = p of c_g dP/d alpha_g,
    dP/d theta_p = tile(vec(M))_p dP/d phi_p,
    dP/d M_kl    = sum over p with p = k T + l (mod T^2) of theta_p dP/d phi_p.

The gates are found in the Bell circuit itself: it is built once with a Qiskit
``ParameterVector`` as phi, every instruction whose angle is an expression c * phi_p is one
gate g (c from the expression's derivative), and the 2G shifted circuits plus the unshifted
one go to the runner in ONE ``sample`` call (one batch / job). For T < n the corner
completion of the estimate (``complete_padded``) is not linear; its Jacobian at the
unshifted estimate maps the n x n derivatives to T x T (exact for exact probabilities, the
delta method with shots).

Shot noise: each circuit's frequencies are one multinomial draw, independent across
circuits, and every gradient entry is a fixed linear combination of them, so its variance
is the sum over circuits of w^2-weighted multinomial variances,
``(sum_a w_a^2 f_a - (sum_a w_a f_a)^2) / shots`` with the measured frequencies f as plug-in
(readout-error correction, when on, is linear and folded into w). The returned standard
errors are the square roots (None without shots).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from qdsformer.hardware.assignment import correct_readout
from qdsformer.hardware.bell import bell_readout_circuit, counts_to_frequencies, spec_ansatz
from qdsformer.hardware.shot_matrix import backend_runner, resolved_run, spec_angles
from qdsformer.hardware.spec import CircuitSpec
from qdsformer.quantum import complete_padded, dsm_from_unitary, encode_angles, qontot_dsm

__all__ = ["ShiftGate", "ShiftResult", "chain_to_inputs", "exact_gradients", "parameter_shift",
           "shift_circuits", "shift_gradients", "summarize_shift"]

SHIFT = math.pi / 2


@dataclass(frozen=True)
class ShiftGate:
    """One parametrised gate of the Bell circuit: instruction ``index``, angle ``coeff * phi[param]``."""

    index: int
    param: int
    coeff: float


@dataclass
class ShiftResult:
    """Parameter-shift gradients of a spec's QontOT matrix P (T x T) on one backend.

    Attributes:
        spec: the spec (run options resolved).
        backend: backend string.
        shots: shots per circuit (None for exact / statevector).
        estimate: P at the spec's angles from the unshifted circuit, (T, T).
        d_phi: dP/dphi, (n_params, T, T).
        d_theta: dP/dtheta, (n_params, T, T).
        d_scores: dP/dM, (T, T, T, T): ``d_scores[k, l] = dP / dM[k, l]``.
        stderr_phi, stderr_theta, stderr_scores: shot-noise standard errors, same shapes
            (None without shots).
        exact_d_theta, exact_d_scores: the same gradients from our simulator's autograd
            (adjoint backward), float64: the reference.
        n_gates: parametrised gates G of the Bell circuit; ``n_circuits`` = 2G + 1 were run
            (0 for ``exact``).
        seconds: wall time of circuit building, the runner call and the arithmetic.
        metadata: runner facts (transpiled depth, device, job id, ...).
    """

    spec: CircuitSpec
    backend: str
    shots: int | None
    estimate: torch.Tensor
    d_phi: torch.Tensor
    d_theta: torch.Tensor
    d_scores: torch.Tensor
    stderr_phi: torch.Tensor | None
    stderr_theta: torch.Tensor | None
    stderr_scores: torch.Tensor | None
    exact_d_theta: torch.Tensor
    exact_d_scores: torch.Tensor
    n_gates: int
    n_circuits: int
    seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)


def shift_circuits(ansatz, angles: torch.Tensor, *, n_data_qubits: int, layout: str
                   ) -> tuple[list, list[ShiftGate]]:
    """The unshifted Bell circuit and its 2G shifted copies, bound to ``angles``.

    Args:
        ansatz: the ``qdsformer.quantum`` ansatz.
        angles: (n_params,) encoded angles phi.
        n_data_qubits: q_d.
        layout: ``direct`` or ``parted``.

    Returns:
        (circuits, gates): circuits[0] is unshifted, circuits[1 + 2g] / [2 + 2g] have gate g's
        angle shifted by +pi/2 / -pi/2; ``gates`` in instruction order.
    """
    from qiskit.circuit import ParameterExpression, ParameterVector

    phi = ParameterVector("phi", ansatz.n_params)
    template = bell_readout_circuit(ansatz, phi, n_data_qubits=n_data_qubits, layout=layout)
    gates = []
    for index, inst in enumerate(template.data):
        params = inst.operation.params
        if not params or not isinstance(params[0], ParameterExpression) or not params[0].parameters:
            continue
        (symbol,) = params[0].parameters  # every gate angle is c * phi_p
        gates.append(ShiftGate(index, symbol.index, float(params[0].gradient(symbol))))
    values = [float(a) for a in angles.tolist()]
    circuits = [template.assign_parameters(values)]
    for gate in gates:
        inst = template.data[gate.index]
        op = inst.operation
        for sign in (1.0, -1.0):
            shifted = template.copy()
            shifted.data[gate.index] = inst.replace(operation=type(op)(op.params[0] + sign * SHIFT))
            circuits.append(shifted.assign_parameters(values))
    return circuits, gates


def _readout_matrices(rates: torch.Tensor, n2: int) -> torch.Tensor:
    """(C, B, 2) rates -> (C, n2, n2) matrices A_c of the (linear) readout correction."""
    eye = torch.eye(n2, dtype=torch.float64)  # (n2, n2): basis vectors as rows
    return torch.stack([correct_readout(eye, r.expand(n2, *r.shape)).T
                        for r in rates])  # column k = A e_k


def shift_gradients(freq: torch.Tensor, gates: list[ShiftGate], *, n_tokens: int,
                    n_params: int, shots: int | None, readout: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The pure arithmetic: frequencies of the 2G + 1 circuits -> P, dP/dphi, its stderr.

    Args:
        freq: (2G + 1, n^2) raw outcome frequencies (index i * n + j), circuit 0 unshifted.
        gates: the G gates (:func:`shift_circuits`).
        n_tokens: T.
        n_params: length of phi.
        shots: shots per circuit, or None (exact probabilities: no standard error).
        readout: optional (2G + 1, n^2, n^2) linear readout corrections A_c.

    Returns:
        (P (T, T), dP/dphi (n_params, T, T), its standard error or None).
    """
    n_circ, n2 = freq.shape
    n = math.isqrt(n2)
    if n_circ != 2 * len(gates) + 1:
        raise ValueError(f"expected {2 * len(gates) + 1} circuits' frequencies, got {n_circ}")
    weights = n * (torch.eye(n2, dtype=torch.float64).expand(n_circ, n2, n2)
                   if readout is None else readout)  # (C, n2, n2): freq -> full estimate
    full = (weights[0] @ freq[0]).reshape(n, n)  # (n, n) unshifted estimate
    estimate = complete_padded(full, n_tokens)  # (T, T)
    jac = torch.autograd.functional.jacobian(lambda f: complete_padded(f, n_tokens), full)
    weights = jac.reshape(n_tokens ** 2, n2) @ weights  # (C, T^2, n2): freq -> T x T entry
    mean = torch.einsum("cea,ca->ce", weights, freq)  # (C, T^2)
    d_gate = (mean[1::2] - mean[2::2]) / 2  # (G, T^2) dP/d alpha_g
    params = torch.tensor([g.param for g in gates], dtype=torch.long)  # (G,)
    coeffs = torch.tensor([g.coeff for g in gates], dtype=torch.float64)[:, None]  # (G, 1)
    d_phi = torch.zeros(n_params, n_tokens ** 2, dtype=torch.float64)
    d_phi.index_add_(0, params, coeffs * d_gate)  # (n_params, T^2)
    stderr = None
    if shots is not None:
        second = torch.einsum("cea,ca->ce", weights.square(), freq)  # (C, T^2)
        var = (second - mean.square()).clamp_min(0) / shots  # (C, T^2) per circuit
        var_gate = (var[1::2] + var[2::2]) / 4  # (G, T^2)
        var_phi = torch.zeros_like(d_phi).index_add_(0, params, coeffs.square() * var_gate)
        stderr = var_phi.sqrt().reshape(n_params, n_tokens, n_tokens)
    return estimate, d_phi.reshape(n_params, n_tokens, n_tokens), stderr


def chain_to_inputs(d_phi: torch.Tensor, scores: torch.Tensor, theta: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """dP/dphi (n_params, T, T) -> (dP/dtheta (n_params, T, T), dP/dM (T, T, T, T)).

    phi_p = theta_p * vec(M)[p mod T^2]; also maps variances when given ``d_phi = var`` with
    ``scores`` and ``theta`` squared (the map is linear with independent terms).
    """
    n_params, t = d_phi.shape[0], d_phi.shape[-1]
    tile = encode_angles(scores, torch.ones_like(theta))  # (n_params,) vec(M)[p mod T^2]
    d_theta = tile[:, None, None] * d_phi  # (n_params, T, T)
    entry = torch.arange(n_params) % (t * t)  # (n_params,) score entry of each parameter
    d_scores = torch.zeros(t * t, t, t, dtype=d_phi.dtype)
    d_scores.index_add_(0, entry, theta[:, None, None].to(d_phi.dtype) * d_phi)
    return d_theta, d_scores.reshape(t, t, t, t)


def exact_gradients(spec: CircuitSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dP/dphi, dP/dtheta (n_params, T, T) and dP/dM (T, T, T, T) from our simulator's autograd.

    dP/dtheta and dP/dM differentiate ``qontot_dsm`` itself (encoding included), independent
    of :func:`chain_to_inputs`; dP/dphi differentiates the readout of ``unitary(phi)``.
    """
    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)  # (n_params,) float64
    jac_s, jac_t = torch.autograd.functional.jacobian(
        lambda s, th: qontot_dsm(s, th, ansatz), (spec.scores, theta))  # (T,T,T,T), (T,T,P)

    def from_angles(phi: torch.Tensor) -> torch.Tensor:
        full = dsm_from_unitary(ansatz.unitary(phi), spec.n_data_qubits)  # (n, n)
        return complete_padded(full, spec.n_tokens)  # (T, T)

    jac_phi = torch.autograd.functional.jacobian(from_angles, spec_angles(spec))  # (T, T, P)
    return (jac_phi.permute(2, 0, 1).contiguous(), jac_t.permute(2, 0, 1).contiguous(),
            jac_s.permute(2, 3, 0, 1).contiguous())


def parameter_shift(spec: CircuitSpec, *, backend: str | None = None, shots: int | None = None,
                    seed: int | None = None, optimization_level: int | None = None,
                    dynamical_decoupling: bool | None = None, twirling: bool | None = None,
                    readout_mitigation: bool | None = None, ibm_channel: str | None = None,
                    service=None) -> ShiftResult:
    """Estimate dP/dtheta and dP/dM of ``spec`` by the parameter-shift rule on a backend.

    Arguments as :func:`qdsformer.hardware.run_dsm` (they override ``spec.run``). ``exact``
    runs no circuit: its gradients are our simulator's autograd ones. Every other backend
    gets the 2G + 1 Bell circuits in one ``sample`` call.

    Returns:
        A :class:`ShiftResult`.

    Raises:
        ValueError: unknown backend, shots <= 0, the circuit does not fit the qubit budget or
            the device, or no IBM account configured.
    """
    start = time.perf_counter()
    spec, choice = resolved_run(spec, backend=backend, shots=shots, seed=seed,
                                optimization_level=optimization_level,
                                dynamical_decoupling=dynamical_decoupling, twirling=twirling,
                                readout_mitigation=readout_mitigation)
    opts = spec.run
    ansatz = spec_ansatz(spec)
    theta = spec.theta_vector(ansatz.n_params)  # (n_params,)
    exact_phi, exact_theta, exact_scores = exact_gradients(spec)
    if choice.kind == "exact":
        return ShiftResult(spec, str(choice), None, qontot_dsm(spec.scores, theta, ansatz),
                           exact_phi, exact_theta, exact_scores, None, None, None, exact_theta,
                           exact_scores, 0, 0, time.perf_counter() - start,
                           {"simulator": "qdsformer.quantum (torch autograd, adjoint)"})
    runner, shots = backend_runner(spec, choice, ibm_channel=ibm_channel, service=service)
    circuits, gates = shift_circuits(ansatz, spec_angles(spec), n_data_qubits=spec.n_data_qubits,
                                     layout=spec.layout)
    counts, facts = runner.sample(circuits, shots)  # one batch: 2G + 1 circuits
    freq = torch.stack([counts_to_frequencies(c, n_data_qubits=spec.n_data_qubits)
                        for c in counts])  # (2G + 1, n^2)
    readout = None
    if "readout_rates" in facts:
        rates = torch.tensor(facts["readout_rates"], dtype=torch.float64)  # (C, 2 q_d, 2)
        readout = _readout_matrices(rates, freq.shape[-1])  # (C, n^2, n^2)
        facts["readout_rates"] = rates.mean(0).tolist()
    estimate, d_phi, se_phi = shift_gradients(freq, gates, n_tokens=spec.n_tokens,
                                              n_params=ansatz.n_params, shots=shots,
                                              readout=readout)
    d_theta, d_scores = chain_to_inputs(d_phi, spec.scores, theta)
    se_theta = se_scores = None
    if se_phi is not None:
        var_theta, var_scores = chain_to_inputs(se_phi.square(), spec.scores.square(),
                                                theta.square())
        se_theta, se_scores = var_theta.sqrt(), var_scores.sqrt()
    facts.update(layout=spec.layout, seed=opts.seed, optimization_level=opts.optimization_level,
                 readout_mitigation=opts.readout_mitigation)
    return ShiftResult(spec, str(choice), shots, estimate, d_phi, d_theta, d_scores, se_phi,
                       se_theta, se_scores, exact_theta, exact_scores, len(gates),
                       len(circuits), time.perf_counter() - start, facts)


def summarize_shift(result: ShiftResult) -> dict[str, Any]:
    """A JSON-ready record of a :class:`ShiftResult` with its error against autograd.

    Tensors become nested lists. ``max_abs_error_theta`` / ``_scores``: largest deviation
    from the autograd gradients; ``rms_error_theta``; with shots also ``mean_stderr_theta``
    and ``max_abs_z`` / ``mean_z2`` (deviation in standard errors over the entries with a
    non-zero standard error; mean_z2 near 1 when the standard errors are right).
    """
    spec = result.spec
    err_theta = result.d_theta - result.exact_d_theta  # (n_params, T, T)
    err_scores = result.d_scores - result.exact_d_scores  # (T, T, T, T)
    record: dict[str, Any] = {
        "spec": spec.name, "backend": result.backend, "shots": result.shots,
        "seed": spec.run.seed, "ansatz": spec.ansatz, "layout": spec.layout,
        "n_tokens": spec.n_tokens, "n_qubits": spec.n_qubits, "n_layers": spec.n_layers,
        "n_params": int(result.d_theta.shape[0]), "n_gates": result.n_gates,
        "n_circuits": result.n_circuits, "seconds": result.seconds,
        "optimization_level": spec.run.optimization_level,
        "readout_mitigation": spec.run.readout_mitigation,
        "dynamical_decoupling": spec.run.dynamical_decoupling, "twirling": spec.run.twirling,
        "max_abs_error_theta": float(err_theta.abs().max()),
        "max_abs_error_scores": float(err_scores.abs().max()),
        "rms_error_theta": float(err_theta.square().mean().sqrt()),
        "estimate": result.estimate.tolist(),
        "d_theta": result.d_theta.tolist(), "d_scores": result.d_scores.tolist(),
        "stderr_theta": None if result.stderr_theta is None else result.stderr_theta.tolist(),
        "stderr_scores": None if result.stderr_scores is None else result.stderr_scores.tolist(),
        "exact_d_theta": result.exact_d_theta.tolist(),
        "exact_d_scores": result.exact_d_scores.tolist(),
        "metadata": result.metadata,
    }
    if result.stderr_theta is not None:
        errs = torch.cat([err_theta.flatten(), err_scores.flatten()])
        ses = torch.cat([result.stderr_theta.flatten(), result.stderr_scores.flatten()])
        z = errs[ses > 0] / ses[ses > 0]
        record.update(mean_stderr_theta=float(result.stderr_theta.mean()),
                      max_abs_z=float(z.abs().max()), mean_z2=float(z.square().mean()))
    return record
