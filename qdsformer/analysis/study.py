"""The operator comparison of QDSFormer, section 3: every normaliser on one input set.

For each operator setting (a registered normaliser plus keyword arguments, e.g. ``sinkhorn``
with ``n_iters=3``) the study feeds the same score matrices M through the operator and reports

- soundness: Frobenius distance of P to the Birkhoff polytope, row / column marginal errors;
- diversity: number of unique outputs (rounded to ``decimals``) over the input set, and for
  parametric operators (QontOT) the per-cell range of P over random parameter draws;
- information kept ||P - M||_F, entropy, effective rank, Spearman correlation of P with M.

Operators that consume (q, k) (``esp``, ``lot``) get the balanced SVD factors of each M,
q = U S^1/2, k = V S^1/2 (:func:`qdsformer.attention.qk_from_scores`, d = n, so q k^T = M),
and are sized for them (``head_dim`` = n). Their outputs depend on that choice of factors.

Results come back as long-form rows ``(operator, setting, metric, value)`` plus the
per-matrix values behind the figures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

from qdsformer.analysis.metrics import (
    birkhoff_distance,
    cell_range,
    effective_rank,
    entropy,
    information_kept,
    marginal_max_error,
    spearman,
    unique_count,
)
from qdsformer.attention import list_normalizers, qk_from_scores
from qdsformer.attention.setting import OperatorSetting, parse_setting

log = logging.getLogger(__name__)

__all__ = [
    "OperatorSetting",
    "StudyResult",
    "default_settings",
    "operator_outputs",
    "parse_setting",
    "run_study",
    "summary_table",
]

#: metrics computed per matrix; summarised by mean and std over the input set
PER_MATRIX_METRICS = ("birkhoff_distance", "entropy", "information_kept", "effective_rank",
                      "spearman_to_input", "row_error", "column_error")


def default_settings(qontot_layers: Sequence[int] = (1, 2, 4, 8, 16),
                     qontot_aux: Sequence[int] = (0, 2, 4)) -> list[OperatorSetting]:
    """Every registered normaliser with its defaults, Sinkhorn at 3 and 21 iterations, and
    QontOT (when registered) over circuit depths ``qontot_layers`` x auxiliary qubits
    ``qontot_aux``."""
    settings = []
    for name in list_normalizers():
        if name == "sinkhorn":
            settings += [OperatorSetting(name, (("n_iters", k),)) for k in (3, 21)]
        elif name == "qontot":
            settings += [OperatorSetting(name, tuple(sorted({"n_layers": layers,
                                                             "n_aux_qubits": aux}.items())))
                         for aux in qontot_aux for layers in qontot_layers]
        else:
            settings.append(OperatorSetting(name))
    return settings


def is_parametric(module: torch.nn.Module) -> bool:
    """Whether an operator holds parameters or buffers (whose random draws change P)."""
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def operator_outputs(setting: OperatorSetting, scores: torch.Tensor, seed: int = 0,
                     chunk: int = 4096) -> torch.Tensor:
    """P = operator(M) for a stack of score matrices, in chunks, without gradients.

    Args:
        setting: the operator.
        scores: M, shape (N, n, n) or (N, H, n, n).
        seed: seed of the operator's random parameters.
        chunk: matrices per call.

    Returns:
        P with the shape of ``scores``. Randomness inside the forward pass (QR's jitter of
        rank-deficient inputs) is drawn from ``seed`` too, so the outputs are reproducible.
    """
    if scores.dim() not in (3, 4):
        raise ValueError(f"scores must be (N, n, n) or (N, H, n, n), got {tuple(scores.shape)}")
    four = scores if scores.dim() == 4 else scores[:, None]  # (N, H, n, n)
    qk = setting.consumes == "qk"
    if qk:  # q, k = qk_from_scores(M) have d = n
        setting = setting.sized_for(heads=four.shape[1], head_dim=four.shape[-1])
    module = setting.create(seed).to(scores.dtype)

    def apply(m: torch.Tensor) -> torch.Tensor:
        return module(*qk_from_scores(m)) if qk else module(m)  # (n_chunk, H, n, n)

    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # reproducible noise (e.g. QR's rank-deficiency jitter)
        out = torch.cat([apply(four[i:i + chunk]) for i in range(0, four.shape[0], chunk)])
    return out if scores.dim() == 4 else out[:, 0]


@dataclass
class StudyResult:
    """Output of :func:`run_study`.

    Attributes:
        rows: long-form records ``{"operator", "setting", "metric", "value"}``.
        per_matrix: ``label -> metric -> tensor (N,)`` of per-matrix values (first draw).
        settings: the operator settings, in order.
        n_matrices: matrices in the input set.
    """

    rows: list[dict] = field(default_factory=list)
    per_matrix: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    settings: list[OperatorSetting] = field(default_factory=list)
    n_matrices: int = 0

    def value(self, label: str, metric: str) -> float:
        """The value of ``metric`` for the setting with ``label``."""
        for row in self.rows:
            if _label(row) == label and row["metric"] == metric:
                return row["value"]
        raise ValueError(f"no metric {metric!r} for operator {label!r} in this study")


def _label(row: dict) -> str:
    return row["operator"] if row["setting"] == "default" else f"{row['operator']}({row['setting']})"


def matrix_metrics(P: torch.Tensor, M: torch.Tensor, **projection_kwargs
                   ) -> dict[str, torch.Tensor]:
    """The per-matrix metrics of the study for outputs P and inputs M, each (N, n, n).

    Returns:
        ``metric -> (N,)`` for :data:`PER_MATRIX_METRICS`.
    """
    return {
        "birkhoff_distance": birkhoff_distance(P, **projection_kwargs),
        "entropy": entropy(P),
        "information_kept": information_kept(P, M),
        "effective_rank": effective_rank(P),
        "spearman_to_input": spearman(P, M),
        "row_error": marginal_max_error(P, axis="row"),
        "column_error": marginal_max_error(P, axis="column"),
    }


def run_study(scores: torch.Tensor, settings: Iterable[OperatorSetting] | None = None,
              param_draws: int = 4, decimals: int = 3, seed: int = 0, progress=None,
              **projection_kwargs) -> StudyResult:
    """Compare operators on one input set.

    For every setting: P = operator(M) with parameters drawn from ``seed``; per-matrix metrics
    summarised by mean / std (and max for the distance and marginal errors); ``unique`` =
    :func:`unique_count` of P over the set and ``unique_fraction`` = unique / N. A parametric
    operator (one with parameters or buffers, e.g. QontOT's angles) is also run with
    ``param_draws`` seeds ``seed, seed+1, ...``: ``cell_range_mean`` / ``cell_range_max``
    summarise :func:`cell_range` over the draws, ``unique_mean`` averages the per-draw counts
    and ``unique_all_draws`` counts the distinct outputs of all draws together.

    Args:
        scores: input set M, shape (N, n, n); any heads must be flattened into N first.
        settings: operators; default :func:`default_settings`.
        param_draws: random parameter draws of parametric operators (>= 1).
        decimals: rounding of :func:`unique_count`.
        seed: first parameter seed.
        progress: optional callable ``progress(label)`` called before each setting.
        **projection_kwargs: for :func:`birkhoff_distance`.

    Returns:
        A :class:`StudyResult`.
    """
    if scores.dim() != 3 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be a stack of square matrices (N, n, n), "
                         f"got shape {tuple(scores.shape)}")
    if int(param_draws) != param_draws or param_draws < 1:
        raise ValueError(f"param_draws must be a positive integer, got {param_draws}")
    settings = list(settings) if settings is not None else default_settings()
    result = StudyResult(settings=settings, n_matrices=scores.shape[0])
    n = scores.shape[0]
    for setting in settings:
        if progress is not None:
            progress(setting.label)
        P = operator_outputs(setting, scores, seed=seed)  # (N, n, n)
        values = matrix_metrics(P, scores, **projection_kwargs)
        result.per_matrix[setting.label] = values
        summary: dict[str, float] = {}
        for metric, v in values.items():
            v = v.to(torch.float64)
            v = v[torch.isfinite(v)]  # spearman is NaN for constant matrices
            summary[f"{metric}_mean"] = float(v.mean()) if v.numel() else float("nan")
            summary[f"{metric}_std"] = float(v.std()) if v.numel() > 1 else 0.0
        for metric in ("birkhoff_distance", "row_error", "column_error"):
            summary[f"{metric}_max"] = float(values[metric].max())
        count = unique_count(P, decimals=decimals)
        summary["unique"] = float(count)
        summary["unique_fraction"] = count / n
        if param_draws > 1 and is_parametric(setting.create(seed)):
            draws = torch.stack([P] + [operator_outputs(setting, scores, seed=seed + k)
                                       for k in range(1, param_draws)])  # (K, N, n, n)
            ranges = cell_range(draws)  # (N, n, n)
            summary["cell_range_mean"] = float(ranges.mean())
            summary["cell_range_max"] = float(ranges.max())
            summary["unique_mean"] = sum(unique_count(d, decimals=decimals) for d in draws) / param_draws
            summary["unique_all_draws"] = float(unique_count(draws, decimals=decimals))
        for metric, value in summary.items():
            result.rows.append({"operator": setting.operator, "setting": setting.setting,
                                "metric": metric, "value": value})
        log.info("%s: distance %.3g, unique %d/%d", setting.label,
                 summary["birkhoff_distance_mean"], count, n)
    return result


def summary_table(result) -> str:
    """A fixed-width table of the headline numbers, one line per operator setting."""
    header = (f"{'operator':40s} {'dist mean':>10s} {'dist std':>9s} {'unique':>7s} "
              f"{'entropy':>8s} {'info kept':>9s} {'col err':>9s}")
    lines = [header, "-" * len(header)]
    for setting in result.settings:
        v = {metric: result.value(setting.label, metric) for metric in (
            "birkhoff_distance_mean", "birkhoff_distance_std", "unique", "entropy_mean",
            "information_kept_mean", "column_error_max")}
        lines.append(f"{setting.label:40s} {v['birkhoff_distance_mean']:10.3g} "
                     f"{v['birkhoff_distance_std']:9.2g} {int(v['unique']):7d} "
                     f"{v['entropy_mean']:8.3f} {v['information_kept_mean']:9.3f} "
                     f"{v['column_error_max']:9.2g}")
    return "\n".join(lines)
