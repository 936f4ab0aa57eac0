"""Ground costs between point clouds, batched over leading dims."""

from __future__ import annotations

from collections.abc import Callable

import torch

CostFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: a ground cost function: a name from :data:`COSTS` or a callable (x, y) -> (..., n, m)
Cost = str | CostFn
COSTS = ("sqeuclidean", "euclidean", "l1")


def check_cloud(x: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``x`` is a finite float tensor of shape (..., n, d)."""
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a point cloud of shape (..., n, d), got {shape}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")


def pairwise_cost(x: torch.Tensor, y: torch.Tensor, *, cost_fn: Cost = "sqeuclidean") -> torch.Tensor:
    """Cost matrix C_ij = c(x_i, y_j) between clouds x (..., n, d) and y (..., m, d).

    Args:
        x: points (..., n, d).
        y: points (..., m, d), same d.
        cost_fn: the ground cost c: ``"sqeuclidean"`` ||x - y||_2^2, ``"euclidean"`` ||x - y||_2, ``"l1"``
            ||x - y||_1, or a callable (x, y) -> (..., n, m).

    Returns:
        C, shape (..., n, m).
    """
    check_cloud(x, "x")
    check_cloud(y, "y")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y must have the same dimension d, got {x.shape[-1]} and {y.shape[-1]}")
    if callable(cost_fn):
        return cost_fn(x, y)
    if cost_fn == "sqeuclidean":
        cross = x @ y.transpose(-2, -1)  # (..., n, m)
        sq = (x * x).sum(-1).unsqueeze(-1) + (y * y).sum(-1).unsqueeze(-2)  # (..., n, m)
        return (sq - 2.0 * cross).clamp_min(0.0)  # (..., n, m)
    if cost_fn == "euclidean":
        return torch.cdist(x, y, p=2.0)  # (..., n, m)
    if cost_fn == "l1":
        return torch.cdist(x, y, p=1.0)  # (..., n, m)
    raise ValueError(f"cost_fn must be one of {COSTS} or a callable, got {cost_fn!r}")
