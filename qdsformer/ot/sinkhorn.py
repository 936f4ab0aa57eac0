"""The one batched, log-domain Sinkhorn kernel of the package.

Entropic optimal transport between marginals ``a`` (..., n) and ``b`` (..., m) for a cost
``C`` (..., n, m):

    P = argmin_{P 1 = a, P^T 1 = b} <P, C> - epsilon * H(P),
    P_ij = exp((f_i + g_j - C_ij) / epsilon).

Iterations alternate a row step (fit ``a``) and a column step (fit ``b``), starting with the
row step, as in Sinkformer (Sander et al., AISTATS 2022). With an odd iteration count the last
step is a row step, so the returned plan's rows sum to ``a`` exactly. One iteration on
``C = -scores`` with ``epsilon = 1`` and uniform marginals is ``softmax(scores) / n``.

Every other OT tool and the ``sinkhorn`` attention backend call this function; there is no
second copy.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class SinkhornResult(NamedTuple):
    """Result of :func:`sinkhorn`; the same type whatever the options.

    Attributes:
        plan: transport plan P, shape (..., n, m).
        f: row potential, shape (..., n).
        g: column potential, shape (..., m).
        cost: transport cost <P, C>, shape (...).
        n_iters: number of half-steps (row or column updates) performed.
        marginal_error: max |P 1 - a| + max |P^T 1 - b| over the batch, a 0-dim tensor.
    """

    plan: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    cost: torch.Tensor
    n_iters: int
    marginal_error: torch.Tensor


def _uniform_log_marginal(cost: torch.Tensor, dim: int) -> torch.Tensor:
    size = cost.shape[dim]
    shape = cost.shape[:-2] + (size,)
    return torch.full(shape, -torch.log(torch.tensor(float(size))).item(), dtype=cost.dtype,
                      device=cost.device)


def _check_inputs(cost: torch.Tensor, a, b, epsilon: float, n_iters, tol) -> None:
    if cost.dim() < 2:
        raise ValueError(f"cost must have shape (..., n, m), got shape {tuple(cost.shape)}")
    if not torch.is_floating_point(cost):
        raise ValueError(f"cost must be a floating point tensor, got dtype {cost.dtype}")
    if not torch.isfinite(cost).all():
        raise ValueError("cost contains NaN or infinite entries; expected finite costs")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    if n_iters is None and tol is None:
        raise ValueError("give n_iters, tol, or both; got neither")
    if n_iters is not None and (int(n_iters) != n_iters or n_iters < 1):
        raise ValueError(f"n_iters must be a positive integer, got {n_iters}")
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    for name, w, dim in (("a", a, -2), ("b", b, -1)):
        if w is None:
            continue
        if w.shape[-1] != cost.shape[dim]:
            raise ValueError(
                f"{name} has {w.shape[-1]} entries but cost has {cost.shape[dim]} along that side"
            )
        if (w < 0).any():
            raise ValueError(f"{name} has negative weights; expected non-negative marginals")


def sinkhorn(
    cost: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    epsilon: float = 1.0,
    n_iters: int | None = None,
    tol: float | None = None,
    check_every: int = 10,
) -> SinkhornResult:
    """Log-domain Sinkhorn, batched over leading dims, gradients by unrolling.

    Args:
        cost: C, shape (..., n, m).
        a: row marginal (..., n), default uniform 1/n.
        b: column marginal (..., m), default uniform 1/m.
        epsilon: entropic regularisation (> 0).
        n_iters: number of half-steps (row, column, row, ...). With ``tol`` too it is the cap.
        tol: stop when the marginal error (L1 over rows + columns, max over batch) is below it.
        check_every: with ``tol``, test convergence every this many half-steps (each test syncs).

    Returns:
        SinkhornResult with the plan P = exp((f + g - C) / epsilon).
    """
    _check_inputs(cost, a, b, epsilon, n_iters, tol)
    log_a = _uniform_log_marginal(cost, -2) if a is None else torch.log(a)  # (..., n)
    log_b = _uniform_log_marginal(cost, -1) if b is None else torch.log(b)  # (..., m)
    log_k = -cost / epsilon  # (..., n, m)
    f = torch.zeros_like(log_a)  # (..., n), in units of epsilon
    g = torch.zeros_like(log_b)  # (..., m)
    budget = n_iters if n_iters is not None else 100_000
    done = 0
    error = torch.zeros((), dtype=cost.dtype, device=cost.device)
    while done < budget:
        if done % 2 == 0:
            f = log_a - torch.logsumexp(log_k + g.unsqueeze(-2), dim=-1)  # (..., n)
        else:
            g = log_b - torch.logsumexp(log_k + f.unsqueeze(-1), dim=-2)  # (..., m)
        done += 1
        if tol is not None and (done % check_every == 0 or done == budget):
            error = _marginal_error(torch.exp(log_k + f.unsqueeze(-1) + g.unsqueeze(-2)),
                                    log_a, log_b)
            if error.item() < tol:
                break
    log_plan = log_k + f.unsqueeze(-1) + g.unsqueeze(-2)  # (..., n, m)
    plan = torch.exp(log_plan)
    if tol is None:
        error = _marginal_error(plan, log_a, log_b)
    transport = (plan * cost).sum(dim=(-2, -1))  # (...)
    return SinkhornResult(plan, f * epsilon, g * epsilon, transport, done, error)


def _marginal_error(plan: torch.Tensor, log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    plan = plan.detach()  # (..., n, m)
    row = (plan.sum(-1) - log_a.exp()).abs().sum(-1)
    col = (plan.sum(-2) - log_b.exp()).abs().sum(-1)
    return (row + col).max().detach()
