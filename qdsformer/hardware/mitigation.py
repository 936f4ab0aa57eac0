"""Mitigation and metrics for estimated QontOT matrices, and the shots sweep.

Hardware noise pushes the estimated matrix towards uniform (entropy up) and off the Birkhoff
polytope, while largely keeping the order of its entries (QDSFormer, Born et al. 2025, section
on hardware). We mitigate by the Euclidean projection onto the polytope,

    P_mit = argmin_{X >= 0, X 1 = 1, X^T 1 = 1} ||X - P_hat||_F      (ot.birkhoff_projection),

which can only bring the estimate closer to the exact P in Frobenius norm (P lies in the
polytope and the projection onto a convex set is non-expansive), and report for raw and
mitigated estimates the Frobenius distance ||P_hat - P||_F, the Spearman rank correlation of
the entries with P, the normalised row entropy and the marginal error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from qdsformer.analysis.metrics import entropy, marginal_max_error, spearman
from qdsformer.hardware.shot_matrix import DSMRun, run_dsm
from qdsformer.hardware.spec import CircuitSpec, check_shots
from qdsformer.ot import birkhoff_projection


def mitigate(estimate: torch.Tensor) -> torch.Tensor:
    """Project raw estimates (..., T, T) onto the doubly stochastic matrices, float64."""
    return birkhoff_projection(estimate.detach().to(torch.float64))  # (..., T, T)


def compare(exact: torch.Tensor, estimate: torch.Tensor) -> dict[str, float]:
    """Metrics of one estimate (T, T) against the exact P (T, T).

    Returns:
        ``frobenius`` ||estimate - exact||_F, ``max_abs`` max |estimate - exact|,
        ``spearman`` rank correlation of the entries, ``entropy`` the estimate's mean
        normalised row entropy (1 = uniform; :func:`qdsformer.analysis.metrics.entropy`),
        ``marginal_max_error`` max row + max column deviation of the sums from 1.
    """
    if exact.shape != estimate.shape or exact.dim() != 2:
        raise ValueError(f"exact and estimate must be the same (T, T) shape, got "
                         f"{tuple(exact.shape)} and {tuple(estimate.shape)}")
    exact, estimate = exact.to(torch.float64), estimate.to(torch.float64)
    diff = estimate - exact  # (T, T)
    return {
        "frobenius": float(torch.linalg.matrix_norm(diff)),
        "max_abs": float(diff.abs().max()),
        # entries equal to 1e-12 are ties (exact P often has repeated entries)
        "spearman": float(spearman(estimate.round(decimals=12), exact.round(decimals=12))),
        "entropy": float(entropy(estimate.clamp_min(0))),
        "marginal_max_error": float(marginal_max_error(estimate)),
    }


def summarize(run: DSMRun) -> dict[str, Any]:
    """A JSON-ready record of a run: the matrices (T x T lists) and raw / mitigated metrics.

    Fields: ``spec``, ``backend``, ``shots``, ``seed``, ``readout_mitigation`` (the estimate
    is readout-corrected), ``dynamical_decoupling``, ``twirling``, ``exact``, ``estimate``, ``mitigated``,
    ``frobenius_raw``, ``frobenius_mitigated``, ``spearman_raw``, ``spearman_mitigated``,
    ``entropy_exact``, ``entropy_raw``, ``entropy_mitigated``, ``max_abs_raw``,
    ``max_abs_mitigated``, ``marginal_max_error_raw``, ``shot_noise_frobenius`` (the expected
    ||P_hat - P||_F of ideal sampling, :func:`expected_shot_noise`; None without shots or
    for T not a power of two), ``counts``, ``metadata``.
    """
    mitigated = mitigate(run.estimate)  # (T, T)
    raw = compare(run.exact, run.estimate)
    mit = compare(run.exact, mitigated)
    spec = run.spec
    record: dict[str, Any] = {
        "spec": spec.name,
        "backend": run.backend,
        "shots": run.shots,
        "seed": spec.run.seed,
        "readout_mitigation": spec.run.readout_mitigation and run.shots is not None,
        "dynamical_decoupling": spec.run.dynamical_decoupling,
        "twirling": spec.run.twirling,
        "n_tokens": spec.n_tokens,
        "n_aux_qubits": spec.n_aux_qubits,
        "n_layers": spec.n_layers,
        "ansatz": spec.ansatz,
        "layout": spec.layout,
        "n_circuit_qubits": spec.n_circuit_qubits,
        "exact": run.exact.tolist(),
        "estimate": run.estimate.tolist(),
        "mitigated": mitigated.tolist(),
        "entropy_exact": compare(run.exact, run.exact)["entropy"],
        "shot_noise_frobenius": (expected_shot_noise(run.exact, run.shots)
                                 if run.shots and spec.n_tokens == 2 ** spec.n_data_qubits
                                 else None),
    }
    for key in ("frobenius", "spearman", "entropy", "max_abs", "marginal_max_error"):
        record[f"{key}_raw"] = raw[key]
        record[f"{key}_mitigated"] = mit[key]
    record["counts"] = run.counts
    record["metadata"] = run.metadata
    return record


def expected_shot_noise(exact: torch.Tensor, shots: int) -> float:
    """Root of E||P_hat - P||_F^2 for ideal multinomial sampling of a power-of-two P.

    With p_ij = P_ij / n and P_hat_ij = n X_ij / N (X ~ Multinomial(N, p)),

        E||P_hat - P||_F^2 = (n^2 / N) sum_ij p_ij (1 - p_ij),

    about n / sqrt(N): the n^2 / eps^2 shots rule of the QDSFormer paper.
    """
    check_shots(shots)
    n = exact.shape[-1]
    p = exact.to(torch.float64) / n  # (n, n)
    return float(torch.sqrt(n * n / shots * (p * (1 - p)).sum()))


def shots_sweep(spec: CircuitSpec, *, backend: str, shots_list: Sequence[int],
                **run_kwargs: Any) -> list[dict[str, Any]]:
    """:func:`summarize` records of :func:`run_dsm` at each shot count (matrices dropped).

    Args:
        spec: the circuit spec.
        backend: any circuit backend (``aer``, ``aer-noisy:<fake>``, ``ibm:<name>``).
        shots_list: shot counts, each >= 1.
        **run_kwargs: passed to :func:`run_dsm` (seed, optimization_level, ...).

    Returns:
        One record per shot count, without the matrices and counts (kept small for CSV).
    """
    if not shots_list:
        raise ValueError("shots_list is empty; expected at least one shot count")
    for shots in shots_list:
        check_shots(shots)
    rows = []
    for shots in shots_list:
        record = summarize(run_dsm(spec, backend=backend, shots=shots, **run_kwargs))
        for key in ("exact", "estimate", "mitigated", "counts", "metadata"):
            record.pop(key)
        rows.append(record)
    return rows
