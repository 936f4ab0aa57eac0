"""Entropic OT cost and the debiased Sinkhorn divergence between weighted point clouds.

    OT_eps(a, b) = min_{P 1 = a, P^T 1 = b} <P, C> + eps KL(P | a b^T),
    S_eps(a, b)  = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2

(Genevay, Peyre & Cuturi, AISTATS 2018; Feydy et al., AISTATS 2019). S_eps is non-negative,
zero iff the two measures coincide (for costs like ||x - y||^p, p in {1, 2}), and interpolates
between exact OT (eps -> 0) and a kernel MMD (eps -> infinity). Both call the package's one
Sinkhorn kernel; gradients default to the envelope theorem (exact for these values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from qdsformer.common.checks import check_number
from qdsformer.ot.costs import Cost, pairwise_cost
from qdsformer.ot.sinkhorn import sinkhorn

SUBPROBLEMS = ("xy", "xx", "yy")


def _p_cost(p: float) -> Cost:
    check_number("entropic_ot", "p", p, low=0, low_open=True)
    if p == 2:
        return "sqeuclidean"
    if p == 1:
        return "euclidean"
    return lambda x, y: torch.cdist(x, y, p=2.0) ** p


def default_tol(dtype: torch.dtype) -> float:
    """Default marginal error: 1e-6 in float64, 1e-4 in lower precision (float32 rounding
    stalls Sinkhorn above about 1e-6; small epsilon needs many iterations for less)."""
    return 1e-6 if dtype == torch.float64 else 1e-4


def entropic_ot(
    x: torch.Tensor,
    y: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    *,
    epsilon: float = 0.1,
    p: float = 2,
    cost_fn: Cost | None = None,
    tol: float | str | None = "auto",
    n_iters: int = 50_000,
    grad: str = "envelope",
    **sinkhorn_kwargs,
) -> torch.Tensor:
    """Entropic OT value OT_eps between weighted clouds (x, a) and (y, b).

    Args:
        x: points (..., n, d).
        y: points (..., m, d).
        a: weights of ``x`` (..., n), default uniform.
        b: weights of ``y`` (..., m), default uniform.
        epsilon: entropic regularisation, in units of the cost.
        p: cost ||x - y||_2^p (ignored when ``cost_fn`` is given).
        cost_fn: the ground cost, a name from :data:`qdsformer.ot.costs.COSTS` or a callable, overrides ``p``.
        tol: marginal error to reach; ``"auto"`` (default): :func:`default_tol` of the dtype
            (1e-6 float64, 1e-4 float32); :func:`~qdsformer.ot.sinkhorn` warns
            (:class:`~qdsformer.ot.ConvergenceWarning`) if it is not reached within
            ``n_iters``; None: run exactly ``n_iters`` half-steps (e.g. a fixed-cost loss).
        n_iters: passed to :func:`qdsformer.ot.sinkhorn`; caps the half-steps.
        grad: passed to :func:`qdsformer.ot.sinkhorn`.
        **sinkhorn_kwargs: passed to :func:`qdsformer.ot.sinkhorn`.

    Returns:
        OT_eps, shape (...).
    """
    c = pairwise_cost(x, y, cost_fn=cost_fn if cost_fn is not None else _p_cost(p))  # (..., n, m)
    if tol == "auto":
        tol = default_tol(c.dtype)
    return sinkhorn(c, a, b, epsilon=epsilon, tol=tol, n_iters=n_iters, grad=grad,
                    **sinkhorn_kwargs).value


def sinkhorn_divergence(
    x: torch.Tensor,
    y: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    *,
    epsilon: float = 0.1,
    p: float = 2,
    cost_fn: Cost | None = None,
    tol: float | str | None = "auto",
    n_iters: int = 50_000,
    grad: str = "envelope",
    init: Mapping | Sequence | None = None,
    **sinkhorn_kwargs,
) -> torch.Tensor:
    """Debiased Sinkhorn divergence S_eps = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2.

    The arguments other than ``init`` are those of :func:`entropic_ot`.

    The self terms OT_eps(a, a), OT_eps(b, b) run the kernel's symmetric mode
    (``sinkhorn(..., symmetric=True)``: averaged updates, log domain, whatever ``method`` says),
    which converges where alternating steps oscillate; OT_eps(a, b) runs as asked, or in the
    symmetric mode too when x equals y and a equals b (then S = 0 exactly).

    Args:
        init: warm starts of the three sub-problems, each a pair (f, g) of potentials or None:
            a mapping with keys among ``"xy"`` ((n,), (m,)), ``"xx"`` ((n,), (n,)) and
            ``"yy"`` ((m,), (m,)), or a 3-sequence in that order. Default: cold starts.

    Returns:
        S_eps >= 0 (up to the solver tolerance), shape (...); exactly 0 when x == y, a == b.

    Raises:
        ValueError: ``init`` is not such a mapping or 3-sequence (a single (f, g) pair cannot
            serve three problems of different sizes).
    """
    inits = _split_init(init)
    kwargs = dict(epsilon=epsilon, p=p, cost_fn=cost_fn, tol=tol, n_iters=n_iters, grad=grad,
                  **sinkhorn_kwargs)
    self_kwargs = {**kwargs, "symmetric": True, "method": "log"}  # averaged self-updates
    # x == y (and a == b): OT(a, b) is a self-transport problem too, on which alternating
    # steps oscillate; the symmetric mode then gives S = 0 exactly
    xy = entropic_ot(x, y, a, b, init=inits["xy"],
                     **(self_kwargs if _same_measure(x, y, a, b) else kwargs))
    xx = entropic_ot(x, x, a, a, init=inits["xx"], **self_kwargs)
    yy = entropic_ot(y, y, b, b, init=inits["yy"], **self_kwargs)
    return xy - 0.5 * (xx + yy)


def _same_measure(x: torch.Tensor, y: torch.Tensor, a, b) -> bool:
    """Whether (x, a) and (y, b) are the same weighted cloud (one host sync when shapes match)."""
    if x.shape != y.shape or (a is None) != (b is None):
        return False
    if a is not None and (a.shape != b.shape or not torch.equal(a, b)):
        return False
    return torch.equal(x, y)


def _split_init(init) -> dict:
    """``init`` of :func:`sinkhorn_divergence` as ``{"xy": pair or None, "xx": ..., "yy": ...}``."""
    if init is None:
        return dict.fromkeys(SUBPROBLEMS)
    if isinstance(init, Mapping):
        unknown = sorted(set(init) - set(SUBPROBLEMS))
        if unknown:
            raise ValueError(f"init keys must be among {SUBPROBLEMS}, got {unknown}")
        return {key: init.get(key) for key in SUBPROBLEMS}
    if isinstance(init, Sequence) and len(init) == 3 and not isinstance(init[0], torch.Tensor):
        return dict(zip(SUBPROBLEMS, init))
    raise ValueError("init must map 'xy', 'xx', 'yy' to (f, g) pairs (or be a 3-sequence of "
                     "pairs in that order): one pair cannot warm-start three problems of "
                     "different sizes")
