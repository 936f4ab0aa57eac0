"""The symmetric mode of the Sinkhorn kernel: self-transport OT_eps(a, a) on a symmetric cost.

For a symmetric cost C (n, n) and one marginal a, the optimal potentials coincide (f = g) and
solve the fixed point f = T(f) with

    T(f)_i = eps log a_i - eps LSE_j((f_j - C_ij) / eps),   P_ij = exp((f_i + f_j - C_ij) / eps).

The alternating Sinkhorn steps contract like lambda_2(diag(1/a) P)^2, which tends to 1 as eps
shrinks: on self-transport the iterates oscillate between two near-copies of f. The averaged
update f <- (f + T(f)) / 2 (Feydy et al., AISTATS 2019; GeomLoss ``sinkhorn_loop``, its
"debias" terms) maps T's eigenvalues -lambda in [-1, 0] (for a positive-definite kernel
exp(-C / eps), e.g. the squared Euclidean cost) to (1 - lambda) / 2 in [0, 1/2]: at least a
halving of the error per update, fastest for small eps.

Used by :func:`qdsformer.ot.sinkhorn` with ``symmetric=True``; one update is one
log-sum-exp over the cost, as a half-step of the alternating loop.
"""

from __future__ import annotations

import torch

from qdsformer.ot.convergence import warn_singular_implicit


def self_update(log_k: torch.Tensor, log_a: torch.Tensor,
                f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One averaged update in units of eps; also the L1 row error of the current plan.

    Args:
        log_k: -C / eps, (..., n, n).
        log_a: log a, (..., n).
        f: current potential / eps, (..., n).

    Returns:
        (f + T(f)) / 2, (..., n); and sum_i |P 1 - a|_i of the plan of ``f``, (...).
    """
    lse = torch.logsumexp(log_k + f.unsqueeze(-2), dim=-1)  # (..., n)
    rows = torch.exp(f + lse)  # (..., n), row sums of exp(f_i + f_j - C_ij / eps)
    error = (rows - log_a.exp()).abs().sum(-1)  # (...)
    return 0.5 * (f + log_a - lse), error


def solve_symmetric(cost: torch.Tensor, a: torch.Tensor, epsilon: float, stages: list[float],
                    n_iters: int | None, tol: float | None, stage_tol: float | None,
                    check_every: int, init: torch.Tensor | None):
    """Averaged self-updates, annealed over ``stages`` then at ``epsilon``.

    Args:
        cost: symmetric C (..., n, n).
        a: marginal (..., n).
        epsilon: target regularisation.
        stages: annealing epsilons above ``epsilon`` (may be empty).
        n_iters: cap on the updates at ``epsilon`` (None: no cap but ``tol``).
        tol: stop when the L1 marginal error (rows + columns) is below it.
        stage_tol: with ``stages`` and ``tol``, each stage runs until its error is below it.
        check_every: measure the error every this many updates (one host sync each).
        init: warm start f (..., n) in cost units, or None (first update: f = T(0)).

    Returns:
        (f in cost units, updates done, error below tol or None if not measured below it).
    """
    log_a = torch.log(a)  # (..., n)
    eps = stages[0] if stages else epsilon
    done = 0
    if init is None:  # f = T(0): a full step, as GeomLoss starts (no average with zero)
        f = log_a - torch.logsumexp(-cost / eps, dim=-1)  # (..., n), units of eps
        done = 1
    else:
        f = init / eps
    for stage in stages:
        f = f * eps / stage
        eps = stage
        log_k = -cost / eps  # (..., n, n)
        while True:
            f_next, err = self_update(log_k, log_a, f)
            if stage_tol is not None and float(2.0 * err.amax()) < stage_tol:
                break  # this stage is close enough; the next one refines it
            f, done = f_next, done + 1
            if stage_tol is None:
                break  # without tol: one update per stage
    f = f * eps / epsilon
    log_k = -cost / epsilon  # (..., n, n)
    budget = n_iters if n_iters is not None else 1_000_000
    target = 1 if (init is None and not stages) else 0
    since_check = 0
    while target < budget:
        since_check += 1
        f_next, err = self_update(log_k, log_a, f)
        if tol is not None and since_check >= check_every:
            since_check = 0
            error = 2.0 * err.amax()  # rows and columns: the plan is symmetric
            if error < tol:  # the current f meets tol: keep it
                return f * epsilon, done, error
        f = f_next
        done += 1
        target += 1
    return f * epsilon, done, None


class ImplicitSelfPotential(torch.autograd.Function):
    """(C, a) -> f at the symmetric fixed point sum_j exp((f_i + f_j - C_ij) / eps) = a_i.

    Differentiating the fixed point: (diag(P 1) + P) df = eps da + (P o dC) 1. For an upstream
    w, solve H lam = w with H = diag(P 1) + P (symmetric; positive definite, no gauge freedom
    unlike the two-potential problem), then dC = lam_i P_ij, da = eps lam. Memory: one (..., n, n)
    system whatever the number of updates.
    """

    @staticmethod
    def forward(ctx, cost, a, f, epsilon):
        ctx.save_for_backward(cost, f)
        ctx.epsilon = epsilon
        return f.clone()

    @staticmethod
    def backward(ctx, grad_f):
        cost, f = ctx.saved_tensors
        eps = ctx.epsilon
        plan = torch.exp((f.unsqueeze(-1) + f.unsqueeze(-2) - cost) / eps)  # (..., n, n)
        system = torch.diag_embed(plan.sum(-1)) + plan  # (..., n, n)
        lam, info = torch.linalg.solve_ex(system, grad_f.unsqueeze(-1))  # (..., n, 1), (...)
        lam = lam.squeeze(-1)  # (..., n)
        grad_cost = plan * lam.unsqueeze(-1)  # (..., n, n)
        bad = (info != 0) | ~torch.isfinite(grad_cost).all(-1).all(-1)  # (...)
        if bool(bad.any()):  # one sync, in backward only
            warn_singular_implicit(eps, int(bad.sum()), bad.numel())
            grad_cost = torch.where(bad[..., None, None], 0.0, grad_cost)
            lam = torch.where(bad[..., None], 0.0, lam)
        return grad_cost, eps * lam, None, None
