"""Measurement noise on a QontOT matrix: finite Bell-pair shots and depolarisation.

The hardware readout (``qdsformer.hardware.bell``) measures the data register of a Bell-pair
circuit; the joint outcome (D, D') of one shot falls in cell (i, j) with probability P[i, j] / n
for the n x n doubly stochastic P (P / n is a joint distribution: its entries sum to 1). With N
shots the counts are Multinomial(N, P / n) and the estimate is

    P_hat = n * counts / N                                     (shot_estimate)

exactly as ``qdsformer.hardware.bell.frequencies_to_dsm`` turns measured frequencies into P:
raw, not re-normalised. P_hat is unbiased (E[P_hat] = P), its entries sum to n exactly, and its
rows and columns sum to 1 only in expectation; we keep it raw so a model trained with shot
noise sees the same estimator that evaluates it on hardware.

Hardware noise pushes P toward the uniform matrix while keeping the order of its entries
(Born et al. 2025); its first-order effect is the depolarising mixture

    P_p = (1 - p) P + p J / n,   J the all-ones matrix            (depolarize)

which is exactly doubly stochastic for every p in [0, 1].
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["depolarize", "multinomial_counts", "shot_estimate", "validate_noise"]


def validate_noise(shots, depolarizing) -> tuple[int, float]:
    """Check the noise settings; returns (shots, p) with ``shots`` None mapped to 0 (exact).

    Raises:
        ValueError: ``shots`` not None or an int >= 0 (bools refused), or ``depolarizing`` not
            a real number in [0, 1].
    """
    if shots is None:
        shots = 0
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 0:
        raise ValueError(f"shots must be None or an int >= 0 (0 = exact P), got {shots!r}")
    if (isinstance(depolarizing, bool) or not isinstance(depolarizing, numbers.Real)
            or not 0 <= depolarizing <= 1):
        raise ValueError(f"depolarizing must be a number p in [0, 1], got {depolarizing!r}")
    return int(shots), float(depolarizing)


def depolarize(dsm: torch.Tensor, p: float) -> torch.Tensor:
    """(1 - p) P + p J / n for P (..., n, n); p = 0 returns ``dsm`` itself."""
    _, p = validate_noise(None, p)
    if p == 0:
        return dsm
    return (1 - p) * dsm + p / dsm.shape[-1]  # (..., n, n)


def shot_estimate(dsm: torch.Tensor, shots: int, *, generator: torch.Generator | None = None,
                  straight_through: bool = True) -> torch.Tensor:
    """The estimate of P (..., n, n) from ``shots`` Bell-pair shots per matrix.

    counts ~ Multinomial(N, P / n) over the n^2 cells of every matrix, drawn exactly by
    :func:`multinomial_counts` (binary splitting: cost independent of N), on P's device,
    without a host sync. Randomness comes from ``generator`` or, when None, the global RNG of
    P's device (which the fit loop checkpoints, so a resumed run draws the same shots).

    Args:
        dsm: P (..., n, n), non-negative, each matrix summing to n (doubly stochastic).
        shots: N >= 1 shots per matrix.
        generator: optional torch generator on P's device.
        straight_through: return P + (P_hat - P).detach(), whose value is P_hat and whose
            gradient is that of the exact P; otherwise P_hat (no gradient).

    Returns:
        P_hat (..., n, n) = n * counts / N, same dtype as ``dsm``.
    """
    shots, _ = validate_noise(shots, 0.0)
    if shots == 0:
        raise ValueError("shot_estimate needs shots >= 1 (0 means the exact P)")
    if dsm.dim() < 2 or dsm.shape[-1] != dsm.shape[-2]:
        raise ValueError(f"dsm must be square (..., n, n), got shape {tuple(dsm.shape)}")
    n = dsm.shape[-1]
    exact = dsm.detach()
    probs = exact.reshape(-1, n * n)  # (M, n^2), rows sum to n
    counts = multinomial_counts(probs, shots, generator=generator)  # (M, n^2)
    estimate = (counts * (n / shots)).reshape(dsm.shape)  # (..., n, n)
    if not straight_through:
        return estimate
    return dsm + (estimate - exact)  # value P_hat, gradient of P


def multinomial_counts(weights: torch.Tensor, shots: int, *,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """counts ~ Multinomial(shots, weights / weights.sum()) for every row of ``weights``.

    Exact, by binary splitting: the ``shots`` of a group of cells go to its left half with
    probability (mass of the left half) / (mass of the group), one vectorised
    ``torch.binomial`` per level, so log2(C) draws over all rows at once and a cost that does
    not grow with ``shots`` (drawing N categorical samples with ``torch.multinomial`` and
    counting them costs O(N) per row: about 10x the circuit's forward pass at N = 10^4 on a
    CPU).

    Args:
        weights: (M, C) non-negative, C a power of two (C = n^2 cells).
        shots: N >= 1.
        generator: optional torch generator on the weights' device.

    Returns:
        (M, C) counts (same float dtype as ``weights``), each row summing to ``shots``.
    """
    rows, cells = weights.shape
    if cells & (cells - 1):
        raise ValueError(f"multinomial_counts needs a power-of-two number of cells, got {cells}")
    levels = [weights.clamp_min(0)]  # masses per level, finest first: (M, C), (M, C/2), ..
    while levels[-1].shape[-1] > 1:
        levels.append(levels[-1].unflatten(-1, (-1, 2)).sum(-1))
    counts = torch.full((rows, 1), float(shots), dtype=weights.dtype, device=weights.device)
    for fine in reversed(levels[:-1]):  # split every group of the coarser level in two
        pairs = fine.unflatten(-1, (-1, 2))  # (M, groups, 2)
        total = pairs.sum(-1)  # (M, groups)
        p_left = torch.where(total > 0, pairs[..., 0] / total.clamp_min(1e-30),
                             torch.zeros_like(total)).clamp(0, 1)  # (M, groups)
        left = torch.binomial(counts, p_left, generator=generator)  # (M, groups)
        counts = torch.stack((left, counts - left), -1).flatten(-2)  # (M, 2 groups)
    return counts
