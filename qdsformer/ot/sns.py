"""Sinkhorn-Newton-Sparse (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao & Ying,
ICLR 2024): entropic OT to machine accuracy in a few dozen iterations.

With eta = 1 / epsilon and P(f, g)_ij = exp((f_i + g_j - C_ij) / epsilon), the dual

    D(f, g) = <a, f> + <b, g> - epsilon <P, 1>

is concave with gradient (a - P 1, b - P^T 1) and Hessian
-(1/epsilon) [[diag(P 1), P], [P^T, diag(P^T 1)]], singular along (1, -1).

Stage 1: ``warmup_rounds`` Sinkhorn rounds (row + column step pairs; the package's one kernel).
Stage 2: Newton steps on
(f, g). The Hessian's off-diagonal block P is sparsified to its ``keep * max(n, m)`` largest
entries (the diagonal blocks stay exact, which makes the sparsified matrix positive definite),
the Newton system is solved by Jacobi-preconditioned conjugate gradient on a sparse CSR matrix,
the step's (1, -1) component is removed (it does not change P), and a backtracking line search
accepts a step that raises D (Armijo) or lowers the marginal error (near 1e-9 the Armijo test
loses resolution in float64). Stops when ||P 1 - a||_1 + ||P^T 1 - b||_1 < ``tol``.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch

from qdsformer.ot.convergence import warn_not_converged
from qdsformer.ot.sinkhorn import marginal_l1_error, sinkhorn


class SNSResult(NamedTuple):
    """Result of :func:`sns`.

    Attributes:
        plan: P (n, m), float64.
        f, g: dual potentials (n,), (m,), P = exp((f + g - C) / epsilon).
        transport_cost: <P, C>, 0-dim.
        sinkhorn_rounds: stage-1 Sinkhorn rounds (each a row step and a column step, i.e. two
            of :func:`qdsformer.ot.sinkhorn`'s ``n_iters``), the extra rounds of line search
            fallbacks included.
        newton_iters: stage-2 Newton steps taken.
        marginal_l1_error: ||P 1 - a||_1 + ||P^T 1 - b||_1 of the returned plan, 0-dim.
        history: marginal error after stage 1 and after each Newton step.
        cg_iters: conjugate gradient iterations summed over the Newton steps.
    """

    plan: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    transport_cost: torch.Tensor
    sinkhorn_rounds: int
    newton_iters: int
    marginal_l1_error: torch.Tensor
    history: list
    cg_iters: int


def _conjugate_gradient(matvec, rhs, precond, rtol: float, max_steps: int):
    """Preconditioned CG for an SPD operator; returns (solution, iterations)."""
    x = torch.zeros_like(rhs)
    r = rhs.clone()
    z = precond * r
    p = z.clone()
    rz = torch.dot(r, z)
    stop = rtol * torch.linalg.vector_norm(rhs)
    for it in range(1, max_steps + 1):
        ap = matvec(p)
        alpha = rz / torch.dot(p, ap)
        x = x + alpha * p
        r = r - alpha * ap
        if torch.linalg.vector_norm(r) <= stop:
            return x, it
        z = precond * r
        rz_new = torch.dot(r, z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, max_steps


def sns(
    cost_matrix: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    *,
    epsilon: float = 0.01,
    tol: float = 1e-10,
    warmup_rounds: int = 20,
    max_newton: int = 100,
    keep: float = 4.0,
    cg_rtol: float = 1e-10,
    cg_max_iters: int | None = None,
    max_halvings: int = 40,
) -> SNSResult:
    """Sinkhorn-Newton-Sparse for one entropic OT problem, in float64.

    Args:
        cost_matrix: C, shape (n, m) (one problem; use :func:`qdsformer.ot.sinkhorn` for batches).
        a, b: marginals (n,), (m,), default uniform; same total mass.
        epsilon: entropic regularisation (eta = 1 / epsilon in the paper).
        tol: target marginal error ||P 1 - a||_1 + ||P^T 1 - b||_1.
        warmup_rounds: stage-1 Sinkhorn rounds (each a row and a column step, so
            ``2 * warmup_rounds`` normalisation steps); the paper uses about 20.
        max_newton: cap on Newton steps.
        keep: keep the ``keep * max(n, m)`` largest entries of P in the Hessian. The default 4
            puts 8n entries in the off-diagonal blocks (P and P^T) of the (2n x 2n) Hessian,
            the paper's lambda (2n)^2 with lambda = 2/n; raise it (e.g. 15) for L1 costs.
        cg_rtol: relative residual at which CG stops.
        cg_max_iters: cap on CG iterations per Newton step (default 2 (n + m)).
        max_halvings: line-search halvings before falling back to one Sinkhorn iteration.

    Returns:
        SNSResult with stage iteration counts and the error history.

    Warns:
        ConvergenceWarning: the marginal error is still >= ``tol`` after ``max_newton`` steps.

    Raises:
        ValueError: batched or invalid cost / marginals (see :func:`sinkhorn`), tol or cg_rtol
            not a finite number > 0, warmup_rounds < 1, keep <= 0, max_newton < 0,
            cg_max_iters or max_halvings < 1.
    """
    cost = cost_matrix
    if not isinstance(cost, torch.Tensor) or cost.dim() != 2:
        shape = tuple(cost.shape) if isinstance(cost, torch.Tensor) else type(cost).__name__
        raise ValueError(f"sns solves one problem: cost_matrix must have shape (n, m), got {shape}")
    for name, value in (("epsilon", epsilon), ("tol", tol), ("cg_rtol", cg_rtol)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    for name, value, low in (("cg_max_iters", cg_max_iters, 1), ("max_halvings", max_halvings, 1)):
        if value is not None and (int(value) != value or value < low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if int(warmup_rounds) != warmup_rounds or warmup_rounds < 1:
        raise ValueError(f"warmup_rounds must be a positive integer, got {warmup_rounds}")
    if not keep > 0:
        raise ValueError(f"keep must be > 0, got {keep}")
    if int(max_newton) != max_newton or max_newton < 0:
        raise ValueError(f"max_newton must be a non-negative integer, got {max_newton}")
    c64 = cost.to(torch.float64)
    a64 = None if a is None else a.to(torch.float64)
    b64 = None if b is None else b.to(torch.float64)
    with torch.no_grad():
        # stage 1 (validates every input): 2 * warmup_rounds normalisation steps
        start = sinkhorn(c64, a64, b64, epsilon=epsilon, n_iters=2 * warmup_rounds, method="log")
        n, m = c64.shape
        a64 = torch.full((n,), 1.0 / n, dtype=torch.float64) if a64 is None else a64
        b64 = torch.full((m,), 1.0 / m, dtype=torch.float64) if b64 is None else b64
        mass_gap = float((a64.sum() - b64.sum()).abs())
        if mass_gap >= tol:
            raise ValueError(
                f"a and b masses differ by {mass_gap:.3g} in float64, so the marginal error "
                f"cannot fall below tol={tol:g}; normalise both in float64"
            )
        f, g = start.f, start.g
        keep_k = min(n * m, max(1, math.ceil(keep * max(n, m))))
        cg_cap = cg_max_iters or 2 * (n + m)
        extra_sinkhorn, newton, cg_total = 0, 0, 0

        def state(f, g):
            plan = torch.exp((f.unsqueeze(-1) + g.unsqueeze(-2) - c64) / epsilon)  # (n, m)
            rows, cols = plan.sum(-1), plan.sum(-2)  # (n,), (m,)
            err = (rows - a64).abs().sum() + (cols - b64).abs().sum()
            dual = a64 @ f + b64 @ g - epsilon * plan.sum()
            return plan, rows, cols, float(err), float(dual)

        plan, rows, cols, err, dual = state(f, g)
        history = [err]
        while err >= tol and newton < max_newton:
            grad = torch.cat([a64 - rows, b64 - cols])  # (n + m,), ascent direction of D
            top = torch.topk(plan.reshape(-1), keep_k).values[-1]
            sparse = plan * (plan >= top)  # (n, m), the largest entries of P
            with warnings.catch_warnings():  # torch flags sparse CSR as beta
                warnings.simplefilter("ignore", UserWarning)
                sp = sparse.to_sparse_csr()
                sp_t = sparse.t().contiguous().to_sparse_csr()
            diag = torch.cat([rows, cols]) / epsilon  # (n + m,)

            def matvec(v, sp=sp, sp_t=sp_t, diag=diag):
                top_v, bottom_v = v[:n], v[n:]
                off = torch.cat([sp @ bottom_v, sp_t @ top_v]) / epsilon
                return diag * v + off

            step, used = _conjugate_gradient(matvec, grad, 1.0 / diag.clamp_min(1e-300),
                                             cg_rtol, cg_cap)
            cg_total += used
            shift = (step[:n].sum() - step[n:].sum()) / (n + m)  # remove the (1, -1) part
            df, dg = step[:n] - shift, step[n:] + shift
            slope = float(grad @ torch.cat([df, dg]))
            alpha, accepted = 1.0, False
            for _ in range(max_halvings):
                trial = state(f + alpha * df, g + alpha * dg)
                if trial[3] < err or trial[4] >= dual + 1e-4 * alpha * slope:
                    accepted = True
                    break
                alpha *= 0.5
            if accepted:
                f, g = f + alpha * df, g + alpha * dg
                plan, rows, cols, err, dual = trial
                newton += 1
            else:  # no ascent along the Newton direction: one Sinkhorn iteration instead
                again = sinkhorn(c64, a64, b64, epsilon=epsilon, n_iters=2, method="log",
                                 init=(f, g))
                f, g = again.f, again.g
                plan, rows, cols, err, dual = state(f, g)
                extra_sinkhorn += 1
            history.append(err)
    if err >= tol:
        warn_not_converged("sns", err, tol, f"{newton} Newton steps (max_newton={max_newton})",
                           "raise max_newton or keep, or epsilon")
    return SNSResult(plan, f, g, (plan * c64).sum(), warmup_rounds + extra_sinkhorn, newton,
                     marginal_l1_error(plan, a64, b64), history, cg_total)
