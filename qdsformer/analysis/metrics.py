"""Metrics on attention matrices: how sound, diverse and informative a DSM operator is.

QDSFormer (Born et al., "Quantum Doubly Stochastic Transformers", NeurIPS 2025, section 3)
compares doubly stochastic operators by *soundness* (distance of the output to the Birkhoff
polytope), *diversity* (how many different matrices come out of a grid of inputs), *information
kept* (how far the output is from the input scores) and *entropy*. This module implements those
metrics as pure functions, batched over every leading dimension: a tensor (..., n, m) gives a
result of shape (...), unless the docstring says otherwise.
"""

from __future__ import annotations

import math

import torch

from qdsformer.ot import birkhoff_projection

__all__ = [
    "birkhoff_distance",
    "cell_range",
    "effective_rank",
    "entropy",
    "information_kept",
    "marginal_max_error",
    "spearman",
    "unique_count",
]


def _check_matrices(p: torch.Tensor, name: str = "P", square: bool = False) -> None:
    if not isinstance(p, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(p).__name__}")
    if p.dim() < 2:
        raise ValueError(f"{name} must have shape (..., n, m), got shape {tuple(p.shape)}")
    if square and p.shape[-1] != p.shape[-2]:
        raise ValueError(f"{name} must be square, shape (..., n, n); got {tuple(p.shape)}")
    if not torch.is_floating_point(p):
        raise ValueError(f"{name} must be a floating point tensor, got dtype {p.dtype}")


def birkhoff_distance(P: torch.Tensor, **projection_kwargs) -> torch.Tensor:
    """Frobenius distance of each matrix to the Birkhoff polytope of doubly stochastic matrices.

        d(P) = || P - Pi_B(P) ||_F,   Pi_B = :func:`qdsformer.ot.birkhoff_projection`,

    the *soundness* measure of QDSFormer (Born et al., 2025, section 3): 0 exactly for doubly
    stochastic P. Computed in float64.

    Args:
        P: square matrices, shape (..., n, n).
        **projection_kwargs: passed to ``birkhoff_projection`` (``tol``, ``max_rounds``).

    Returns:
        Distances, shape (...), float64.
    """
    _check_matrices(P, square=True)
    p = P.detach().to(torch.float64)  # (..., n, n)
    projected = birkhoff_projection(p, **projection_kwargs)  # (..., n, n)
    return torch.linalg.matrix_norm(p - projected)  # (...)


def marginal_max_error(P: torch.Tensor, *, axis: str = "both") -> torch.Tensor:
    """Largest deviation of the row and/or column sums from 1, per matrix (L-infinity).

        row(P) = max_i |sum_j P_ij - 1|,   column(P) = max_j |sum_i P_ij - 1|,
        both(P) = row(P) + column(P).

    Args:
        P: matrices, shape (..., n, m).
        axis: ``"row"``, ``"column"`` or ``"both"``.

    Returns:
        Errors, shape (...). (Not :func:`qdsformer.ot.marginal_l1_error`, the L1 error of a
        transport plan against its marginals, maximised over the batch.)
    """
    _check_matrices(P)
    if axis not in ("row", "column", "both"):
        raise ValueError(f"axis must be 'row', 'column' or 'both', got {axis!r}")
    row = (P.sum(-1) - 1.0).abs().amax(-1)  # (...)
    col = (P.sum(-2) - 1.0).abs().amax(-1)  # (...)
    return {"row": row, "column": col, "both": row + col}[axis]


def entropy(P: torch.Tensor) -> torch.Tensor:
    """Mean normalised Shannon entropy of the rows, in [0, 1].

        H(P) = (1 / n) sum_i [ -sum_j p_ij log p_ij ] / log m,   p_ij = P_ij / sum_k P_ik,

    with 0 log 0 = 0. Each row is first scaled to sum to 1 (a no-op for the row-stochastic
    outputs of every attention normaliser), and its entropy in nats is divided by log m, the
    entropy of the uniform row. So a permutation matrix has H = 0 and the uniform matrix
    1/n has H = 1. For a doubly stochastic P, H(P) = (H_joint(P / n) - log n) / log n, the
    normalised entropy of the joint distribution P / n above its minimum log n.

    Args:
        P: non-negative matrices with positive row sums, shape (..., n, m), m >= 2.

    Returns:
        Entropies, shape (...).
    """
    _check_matrices(P)
    m = P.shape[-1]
    if m < 2:
        raise ValueError(f"entropy needs at least 2 columns, got m={m}")
    rows = P / P.sum(-1, keepdim=True)  # (..., n, m)
    h = -torch.special.xlogy(rows, rows).sum(-1)  # (..., n) nats
    return h.mean(-1) / math.log(m)  # (...)


def information_kept(P: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """Frobenius distance between an operator's output P and its input scores M.

        I(P, M) = || P - M ||_F

    QDSFormer (Born et al., 2025, section 3) reads a *smaller* distance as more of the input
    kept by the operator.

    Args:
        P: outputs, shape (..., n, m).
        M: input scores, broadcastable to P.

    Returns:
        Distances, shape (...).
    """
    _check_matrices(P)
    _check_matrices(M, name="M")
    if M.shape[-2:] != P.shape[-2:]:
        raise ValueError(
            f"M must have the matrix shape of P {tuple(P.shape[-2:])}, got {tuple(M.shape[-2:])}"
        )
    return torch.linalg.matrix_norm(P - M)  # (...)


def effective_rank(P: torch.Tensor) -> torch.Tensor:
    """Effective rank of Roy & Vetterli (EUSIPCO 2007): exp of the entropy of the spectrum.

        erank(P) = exp( -sum_k s_k log s_k ),   s_k = sigma_k / sum_l sigma_l,

    with sigma the singular values. It is n for a permutation (or any orthogonal-scaled)
    matrix and 1 for a rank-one matrix such as the uniform 1/n. The zero matrix has no
    spectrum to normalise and gives NaN.

    Args:
        P: matrices, shape (..., n, m).

    Returns:
        Effective ranks in [1, min(n, m)], shape (...).
    """
    _check_matrices(P)
    sigma = torch.linalg.svdvals(P)  # (..., min(n, m))
    s = sigma / sigma.sum(-1, keepdim=True)  # (..., k)
    return torch.exp(-torch.special.xlogy(s, s).sum(-1))  # (...)


def unique_count(Ps: torch.Tensor, *, decimals: int = 3) -> int:
    """Number of distinct matrices in a batch once entries are rounded to ``decimals`` places.

    The diversity measure of QDSFormer (Born et al., 2025, section 3): feed a grid of inputs
    through an operator and count how many different outputs come back. Entries are compared
    as integers round(P * 10**decimals) (round half to even), so -0.0 and 0.0 are the same.

    Args:
        Ps: matrices, shape (..., n, m); all leading dims are flattened into one batch.
        decimals: decimal places kept (>= 0).

    Returns:
        The count, an int in [1, number of matrices] (0 for an empty batch).
    """
    _check_matrices(Ps, name="Ps")
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals}")
    if not torch.isfinite(Ps).all():
        raise ValueError("Ps contains NaN or infinite entries; expected finite matrices")
    flat = Ps.detach().to(torch.float64).reshape(-1, Ps.shape[-2] * Ps.shape[-1])  # (N, n*m)
    if flat.shape[0] == 0:
        return 0
    keys = torch.round(flat * 10.0 ** int(decimals)).to(torch.int64)  # (N, n*m)
    return int(torch.unique(keys, dim=0).shape[0])


def cell_range(Ps: torch.Tensor, *, dim: int = 0) -> torch.Tensor:
    """Per-cell range max - min of the outputs over a stack of parameterisations.

        R_ij = max_k P^(k)_ij - min_k P^(k)_ij,

    with k indexing ``dim`` (e.g. many random draws of the circuit parameters theta for the
    same input). A wide range means the operator can place mass in that cell in many ways;
    a parameter-free operator (softmax, Sinkhorn, QR) has R = 0.

    Args:
        Ps: stacked outputs, e.g. shape (K, ..., n, m).
        dim: the stacking dimension.

    Returns:
        Ranges with ``dim`` removed, e.g. shape (..., n, m).
    """
    _check_matrices(Ps, name="Ps")
    if Ps.dim() < 3:
        raise ValueError(
            f"Ps must stack several matrices along dim {dim}, got shape {tuple(Ps.shape)}"
        )
    return Ps.amax(dim) - Ps.amin(dim)


def _ranks(x: torch.Tensor) -> torch.Tensor:
    """Average ranks (1-based, ties share the mean rank) along the last dim, float64."""
    x = x.to(torch.float64)
    order = torch.argsort(x, dim=-1, stable=True)  # (..., N)
    sorted_x = torch.gather(x, -1, order)  # (..., N)
    n = x.shape[-1]
    positions = torch.arange(1, n + 1, dtype=torch.float64, device=x.device).expand_as(x)
    # Tie groups: a new group starts where the sorted value changes.
    new_group = torch.ones_like(sorted_x, dtype=torch.bool)
    new_group[..., 1:] = sorted_x[..., 1:] != sorted_x[..., :-1]
    group = torch.cumsum(new_group.to(torch.int64), dim=-1) - 1  # (..., N) group id
    sums = torch.zeros_like(positions).scatter_add_(-1, group, positions)
    counts = torch.zeros_like(positions).scatter_add_(-1, group, torch.ones_like(positions))
    mean_rank = torch.gather(sums / counts.clamp_min(1.0), -1, group)  # (..., N) sorted order
    return torch.empty_like(mean_rank).scatter_(-1, order, mean_rank)


def spearman(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between the entries of two matrices, per matrix.

        rho(A, B) = Pearson( rank(vec A), rank(vec B) ),

    ties sharing their average rank (as ``scipy.stats.spearmanr``). Used to check that a
    noisy (hardware) attention matrix keeps the order of the exact one. A matrix with all
    entries equal has no ranking and gives NaN.

    Args:
        A: matrices, shape (..., n, m).
        B: matrices broadcastable to A's shape.

    Returns:
        Correlations in [-1, 1], shape (...), float64.
    """
    _check_matrices(A, name="A")
    _check_matrices(B, name="B")
    try:
        A, B = torch.broadcast_tensors(A, B)
    except RuntimeError as err:
        raise ValueError(
            f"A and B must broadcast, got shapes {tuple(A.shape)} and {tuple(B.shape)}"
        ) from err
    ra = _ranks(A.detach().flatten(-2))  # (..., n*m)
    rb = _ranks(B.detach().flatten(-2))  # (..., n*m)
    ra = ra - ra.mean(-1, keepdim=True)
    rb = rb - rb.mean(-1, keepdim=True)
    return (ra * rb).sum(-1) / torch.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))  # (...)
