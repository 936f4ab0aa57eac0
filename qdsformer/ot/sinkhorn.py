"""The one batched Sinkhorn kernel of the package.

Entropic optimal transport between marginals ``a`` (..., n) and ``b`` (..., m) for a cost
matrix ``C`` (..., n, m) (Cuturi, NeurIPS 2013):

    P = argmin_{P 1 = a, P^T 1 = b} <P, C> + epsilon * KL(P | a b^T),
    P_ij = exp((f_i + g_j - C_ij) / epsilon),

with the dual potentials f, g. Iterations alternate a row step (fit ``a``) and a column step
(fit ``b``), starting with the row step, as in Sinkformer (Sander et al., AISTATS 2022). With an
odd iteration count the last step is a row step, so the returned plan's rows sum to ``a``
exactly; a run stopped by ``tol`` also ends on a row step. One iteration on ``C = -scores`` with
``epsilon = 1`` and uniform marginals is ``softmax(scores) / n``.

Two update rules, one loop:

- ``"log"``: every half-step is a log-sum-exp over the cost, f_i = eps log a_i - eps LSE_j((g_j -
  C_ij) / eps). Never overflows, needs no host sync; best for small batched problems (attention).
- ``"absorb"``: Schmitzer's log-stabilised scaling (SIAM J. Sci. Comput. 2019). The kernel
  K = exp((f + g - C) / eps) is cached and the half-steps are matrix-vector products
  u = a / (K v), v = b / (K^T u); whenever a scaling leaves [e^-tau, e^tau] it is absorbed into
  f, g and K is rebuilt, and a half-step whose scaling under/overflows is redone in the log
  domain. One exp per absorption instead of per iteration: several times faster for large n.

Options: epsilon scaling (anneal from the cost's spread down to ``epsilon``), and gradients by
unrolling (``grad="unroll"``) or by the implicit function theorem at the fixed point
(``grad="implicit"``: iterations run without autograd, memory independent of their number).

Every other OT tool and the ``sinkhorn`` attention normaliser call this function; there is no
second copy.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from qdsformer.common.checks import check_number
from qdsformer.ot.convergence import warn_not_converged, warn_singular_implicit
from qdsformer.ot.symmetric import ImplicitSelfPotential, solve_symmetric

_METHODS = ("auto", "log", "absorb")
_GRADS = ("unroll", "implicit", "envelope")


class SinkhornResult(NamedTuple):
    """Result of :func:`sinkhorn`; the same type whatever the options.

    Attributes:
        plan: transport plan P, shape (..., n, m).
        f: row potential, shape (..., n).
        g: column potential, shape (..., m).
        transport_cost: <P, C>, shape (...).
        half_steps: normalisation steps (half-steps: row or column updates) performed, the
            annealing stages' included (so it may exceed the ``n_iters`` budget, which
            counts the half-steps at the target epsilon only). Formerly ``n_iters``, still
            readable with a FutureWarning.
        marginal_l1_error: max over the batch of sum_i |P 1 - a|_i + sum_j |P^T 1 - b|_j,
            0-dim (:func:`marginal_l1_error`).
        value: entropic OT value OT_eps = <P, C> + epsilon KL(P | a b^T), computed from the
            dual as <a, f> + <b, g> - epsilon (<a, log a> + <b, log b>), shape (...).
    """

    plan: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    transport_cost: torch.Tensor
    half_steps: int
    marginal_l1_error: torch.Tensor
    value: torch.Tensor

    @property
    def n_iters(self) -> int:
        """Deprecated (FutureWarning): :attr:`half_steps`."""
        warnings.warn("SinkhornResult.n_iters is deprecated; use SinkhornResult.half_steps",
                      FutureWarning, stacklevel=2)
        return self.half_steps


def _check_inputs(cost: torch.Tensor, a, b, epsilon, n_iters, tol, method, grad, scaling) -> None:
    if not isinstance(cost, torch.Tensor) or cost.dim() < 2:
        shape = tuple(cost.shape) if isinstance(cost, torch.Tensor) else type(cost).__name__
        raise ValueError(f"cost_matrix must be a tensor of shape (..., n, m), got {shape}")
    if not torch.is_floating_point(cost):
        raise ValueError(f"cost_matrix must be a floating point tensor, got dtype {cost.dtype}")
    if cost.shape[-2] == 0 or cost.shape[-1] == 0:
        raise ValueError(f"cost_matrix must have n, m >= 1 points per side, got shape "
                         f"{tuple(cost.shape)}")
    if not torch.isfinite(cost).all():
        raise ValueError("cost_matrix contains NaN or infinite entries; expected finite costs")
    check_number("sinkhorn", "epsilon", epsilon, low=0, low_open=True)
    if n_iters is None and tol is None:
        raise ValueError("give n_iters, tol, or both; got neither")
    if n_iters is not None and (int(n_iters) != n_iters or n_iters < 1):
        raise ValueError(f"n_iters must be a positive integer, got {n_iters}")
    if tol is not None:
        check_number("sinkhorn", "tol", tol, low=0, low_open=True)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if grad not in _GRADS:
        raise ValueError(f"grad must be one of {_GRADS}, got {grad!r}")
    if scaling is not None and not 0 < scaling < 1:
        raise ValueError(f"epsilon_scaling must be in (0, 1) or None, got {scaling}")
    for name, w, dim in (("a", a, -2), ("b", b, -1)):
        if w is None:
            continue
        if not isinstance(w, torch.Tensor) or w.dim() < 1:
            raise ValueError(f"{name} must be a tensor of shape (..., {cost.shape[dim]})")
        if w.shape[-1] != cost.shape[dim]:
            raise ValueError(
                f"{name} has {w.shape[-1]} entries but cost_matrix has {cost.shape[dim]} along that side"
            )
        if not torch.isfinite(w).all():
            raise ValueError(f"{name} contains NaN or infinite weights")
        if (w < 0).any():
            raise ValueError(f"{name} has negative weights; expected non-negative marginals")
    if (a is None) != (b is None):  # the other one defaults to uniform weights of mass 1
        given, name = (a, "a") if a is not None else (b, "b")
        gap = (given.sum(-1) - 1.0).abs().max() if given.numel() else 0.0
        if gap > 1e-5:
            raise ValueError(
                f"{name} must have total mass 1 when the other marginal is the uniform default, "
                f"its mass is off by {float(gap):.3g}; pass both a and b for another mass")
    if a is not None and b is not None:
        gap = (a.sum(-1) - b.sum(-1)).abs()
        gap = gap.max() if gap.numel() else 0.0
        if gap > 1e-5 * a.sum(-1).abs().max().clamp_min(1.0):
            raise ValueError(
                f"a and b must have the same total mass (balanced OT), masses differ by {float(gap):.3g}"
            )


def _marginal(w: torch.Tensor | None, cost: torch.Tensor, dim: int) -> torch.Tensor:
    """Weights broadcast to cost's batch shape: (..., n) for dim -2, (..., m) for dim -1."""
    shape = cost.shape[:-2] + (cost.shape[dim],)
    if w is None:
        return torch.full(shape, 1.0 / cost.shape[dim], dtype=cost.dtype, device=cost.device)
    try:
        return w.to(cost.dtype).expand(shape)
    except RuntimeError as err:
        raise ValueError(
            f"weights of shape {tuple(w.shape)} do not broadcast to {tuple(shape)}"
        ) from err


class _LogUpdates:
    """Half-steps in the log domain; state = potentials f, g (real units)."""

    def __init__(self, cost, log_a, log_b, epsilon, f, g):
        self.cost, self.log_a, self.log_b = cost, log_a, log_b
        self.set_epsilon(epsilon, f, g)

    def set_epsilon(self, epsilon, f, g):
        self.eps = epsilon
        self.log_k = -self.cost / epsilon  # (..., n, m)
        self.f, self.g = f / epsilon, g / epsilon  # (..., n), (..., m), units of epsilon

    def row(self):
        self.f = self.log_a - torch.logsumexp(self.log_k + self.g.unsqueeze(-2), dim=-1)

    def col(self, check: bool):
        lse = torch.logsumexp(self.log_k + self.f.unsqueeze(-1), dim=-2)  # (..., m)
        error = None
        if check:  # column marginal of the current plan, before this step: exp(g + lse)
            error = (torch.exp(self.g + lse) - self.log_b.exp()).abs().sum(-1).amax()
        return error, lse

    def apply_col(self, lse):
        self.g = self.log_b - lse

    def potentials(self):
        return self.f * self.eps, self.g * self.eps


class _AbsorbUpdates:
    """Log-stabilised scaling: P = K * u v^T with K = exp((f + g - C) / eps) cached."""

    def __init__(self, cost, log_a, log_b, epsilon, f, g):
        self.cost, self.log_a, self.log_b = cost, log_a, log_b
        self.a, self.b = log_a.exp(), log_b.exp()
        self.tau = 20.0 if cost.dtype in (torch.float32, torch.float16, torch.bfloat16) else 50.0
        self.tiny = torch.finfo(cost.dtype).tiny
        self.set_epsilon(epsilon, f, g)

    def set_epsilon(self, epsilon, f, g):
        self.eps = epsilon
        self.f, self.g = f, g  # (..., n), (..., m), real units
        self._rebuild()

    def _rebuild(self):
        exponent = (self.f.unsqueeze(-1) + self.g.unsqueeze(-2) - self.cost) / self.eps
        self.kernel = torch.exp(exponent)  # (..., n, m)
        self.u = torch.ones_like(self.f)  # (..., n)
        self.v = torch.ones_like(self.g)  # (..., m)

    def _absorb(self):
        self.f = self.f + self.eps * torch.log(self.u)
        self.g = self.g + self.eps * torch.log(self.v)
        self._rebuild()

    def _status(self, sums: torch.Tensor, scaling: torch.Tensor, target: torch.Tensor):
        """(underflow, large): sums hit zero; the scaling left [e^-tau, e^tau]. One host sync.

        Entries with zero target weight are ignored (their potential is -inf, their sums 0)."""
        live = target > 0
        underflow = ((sums <= self.tiny) & live).any()
        large = torch.where(live, scaling.log().abs(), 0.0).amax() > self.tau
        flags = torch.stack([underflow, large]).tolist()
        return flags[0], flags[1]

    def row(self):
        sums = (self.kernel @ self.v.unsqueeze(-1)).squeeze(-1)  # (..., n)
        self._scale(sums, rows=True)

    def col(self, check: bool):
        sums = (self.kernel.transpose(-2, -1) @ self.u.unsqueeze(-1)).squeeze(-1)  # (..., m)
        error = None
        if check:  # column marginal of the current plan, before this step: v * K^T u
            error = (self.v * sums - self.b).abs().sum(-1).amax()
        return error, sums

    def apply_col(self, sums):
        self._scale(sums, rows=False)

    def _scale(self, sums: torch.Tensor, rows: bool) -> None:
        """u = a / (K v) (rows) or v = b / (K^T u); log-domain redo when the sums underflow."""
        target = self.a if rows else self.b
        scaling = torch.where(target > 0, target / sums, 0.0)  # zero weight: 0, never 0 / 0
        underflow, large = self._status(sums, scaling, target)
        if not underflow:
            if rows:
                self.u = scaling
            else:
                self.v = scaling
            if large:
                self._absorb()
            return
        self.f, self.g = self.potentials()  # fold both scalings in, then redo in the log domain
        if rows:
            log_k = (self.g.unsqueeze(-2) - self.cost) / self.eps  # (..., n, m)
            self.f = self.eps * (self.log_a - torch.logsumexp(log_k, dim=-1))
        else:
            log_k = (self.f.unsqueeze(-1) - self.cost) / self.eps  # (..., n, m)
            self.g = self.eps * (self.log_b - torch.logsumexp(log_k, dim=-2))
        self._rebuild()

    def potentials(self):
        return self.f + self.eps * torch.log(self.u), self.g + self.eps * torch.log(self.v)


#: Anneal only when epsilon is below the cost's spread by this factor. Measured on the POT-parity
#: problems of tests/ot: a warm start from a larger epsilon can slow the final stage (40 x 40
#: at spread / epsilon ~ 200: +13 % even from a single stage at 2 epsilon), while cold starts
#: with spread / epsilon >= 1000 spend most of their steps in a transient that annealing skips.
MIN_SCALING_RATIO = 500.0
#: With ``tol``, each annealing stage runs until its marginal error is below this fraction of
#: the total mass (or ``tol``, if larger); a looser stage is wasted, a tighter one too.
STAGE_TOL = 1e-2


def _epsilon_schedule(cost: torch.Tensor, epsilon: float, scaling: float | None) -> list[float]:
    """Annealing stages eps_0 > eps_1 > ... > epsilon, eps_0 = spread of the cost.

    Empty (no annealing) without ``scaling`` or when the spread is below
    :data:`MIN_SCALING_RATIO` * epsilon: then a cold start converges as fast.
    """
    if scaling is None:
        return []
    spread = float((cost.amax() - cost.amin()).detach())  # one sync, before the loop
    if spread < MIN_SCALING_RATIO * epsilon:
        return []
    stages = []
    eps = spread
    while eps > epsilon:
        stages.append(eps)
        eps *= scaling
    return stages


def _solve(cost, a, b, epsilon, n_iters, tol, check_every, method, scaling, init):
    """Run the iterations; returns (f, g, half-steps done, error or None if not measured)."""
    log_a, log_b = torch.log(a), torch.log(b)  # (..., n), (..., m)
    if init is None:
        f = torch.zeros_like(a)  # (..., n)
        g = torch.zeros_like(b)  # (..., m)
    else:
        try:
            f = init[0].to(a.dtype).expand_as(a)  # (..., n)
            g = init[1].to(b.dtype).expand_as(b)  # (..., m)
        except RuntimeError as err:
            raise ValueError(
                f"init shapes {tuple(init[0].shape)}, {tuple(init[1].shape)} do not match "
                f"{tuple(a.shape)}, {tuple(b.shape)}"
            ) from err
    stages = _epsilon_schedule(cost, epsilon, scaling)
    updates_cls = _LogUpdates if method == "log" else _AbsorbUpdates
    # the first row step runs in the log domain, so the cached kernel of "absorb" starts with
    # row sums a (no overflow, whatever the scale of the cost)
    start = stages[0] if stages else epsilon
    first = _LogUpdates(cost, log_a, log_b, start, f, g)
    first.row()
    f, g = first.potentials()
    done = 1
    if n_iters == 1 and not stages:
        return f, g, done, None
    updates = updates_cls(cost, log_a, log_b, start, f, g)
    budget = n_iters if n_iters is not None else 1_000_000
    stage_tol = None
    if stages and tol is not None:  # each stage to a stage tolerance; else one row + column step
        stage_tol = max(tol, STAGE_TOL * float(a.sum(-1).amax()))
    for i, stage in enumerate(stages):
        if i > 0:
            updates.set_epsilon(stage, *updates.potentials())
            updates.row()
            done += 1
        for _ in range(budget):
            measured, partial = updates.col(check=stage_tol is not None)
            if measured is not None and measured < stage_tol:
                break  # this stage is close enough; the next one refines it
            updates.apply_col(partial)
            done += 1
            if stage_tol is None:
                break
            updates.row()
            done += 1
    if stages:
        updates.set_epsilon(epsilon, *updates.potentials())
    target = 0 if stages else 1  # half-steps done at the target epsilon
    since_check = 0
    error = None
    while target < budget:
        if done % 2 == 0:
            updates.row()
        else:
            since_check += 1
            check = tol is not None and since_check * 2 >= check_every
            measured, partial = updates.col(check)
            if measured is not None:
                since_check = 0
                if measured < tol:  # stop before the column step: the plan ends on rows
                    error = measured
                    break
            updates.apply_col(partial)
        done += 1
        target += 1
    f, g = updates.potentials()
    return f, g, done, error


class _ImplicitPotentials(torch.autograd.Function):
    """(C, a, b) -> (f, g) at the Sinkhorn fixed point, differentiated implicitly.

    The fixed point solves F = (P 1 - a, P^T 1 - b) = 0 with P = exp((f + g - C) / eps). For an
    upstream (df, dg), solve H [l; k] = eps [df; dg] with H = [[diag(P1), P], [P^T, diag(P^T 1)]]
    (singular along (1, -1); the minimum-norm gauge is used) by eliminating l; then
    dC = P * (l + k^T) / eps, da = l, db = k. Memory: one (..., m, m) system, whatever the
    number of iterations.
    """

    @staticmethod
    def forward(ctx, cost, a, b, f, g, epsilon):
        ctx.save_for_backward(cost, f, g)
        ctx.epsilon = epsilon
        return f.clone(), g.clone()

    @staticmethod
    def backward(ctx, grad_f, grad_g):
        cost, f, g = ctx.saved_tensors
        eps = ctx.epsilon
        plan = torch.exp((f.unsqueeze(-1) + g.unsqueeze(-2) - cost) / eps)  # (..., n, m)
        rows = plan.sum(-1).clamp_min(torch.finfo(plan.dtype).tiny)  # (..., n)
        cols = plan.sum(-2)  # (..., m)
        du, dv = eps * grad_f, eps * grad_g  # (..., n), (..., m)
        # Schur complement on the column block: S = diag(c) - P^T diag(1/r) P, null vector 1
        scaled = plan / rows.unsqueeze(-1)  # (..., n, m)
        schur = torch.diag_embed(cols) - plan.transpose(-2, -1) @ scaled  # (..., m, m)
        m = cols.shape[-1]
        schur = schur + cols.mean(-1, keepdim=True).unsqueeze(-1) / m  # + s 1 1^T / m, fixes gauge
        rhs = dv - (scaled.transpose(-2, -1) @ du.unsqueeze(-1)).squeeze(-1)  # (..., m)
        rhs = rhs - rhs.mean(-1, keepdim=True)  # keep the solvable part (orthogonal to 1)
        k, info = torch.linalg.solve_ex(schur, rhs.unsqueeze(-1))  # (..., m, 1), (...)
        k = k.squeeze(-1)  # (..., m)
        lam = (du - (plan @ k.unsqueeze(-1)).squeeze(-1)) / rows  # (..., n)
        grad_cost = plan * (lam.unsqueeze(-1) + k.unsqueeze(-2)) / eps  # (..., n, m)
        # singular (tiny epsilon: the plan's support falls apart) or non-finite: the envelope
        # gradient for those problems, i.e. no gradient through the potentials
        bad = (info != 0) | ~torch.isfinite(grad_cost).all(-1).all(-1)  # (...)
        if bool(bad.any()):  # one sync, in backward only
            warn_singular_implicit(eps, int(bad.sum()), bad.numel())
            keep = ~bad
            grad_cost = torch.where(keep[..., None, None], grad_cost, 0.0)
            lam = torch.where(keep[..., None], lam, 0.0)
            k = torch.where(keep[..., None], k, 0.0)
        return grad_cost, lam, k, None, None, None


def sinkhorn(
    cost_matrix: torch.Tensor,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    *,
    epsilon: float = 1.0,
    n_iters: int | None = None,
    tol: float | None = None,
    check_every: int | None = None,
    method: str = "auto",
    grad: str = "unroll",
    epsilon_scaling: float | None = None,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    symmetric: bool = False,
) -> SinkhornResult:
    """Batched, log-stabilised Sinkhorn for entropic optimal transport.

    Solves min_P <P, C> + epsilon KL(P | a b^T) s.t. P 1 = a, P^T 1 = b (Cuturi 2013) for every
    leading index of ``cost_matrix``; P_ij = exp((f_i + g_j - C_ij) / epsilon).

    Args:
        cost_matrix: C, shape (..., n, m), finite floats.
        a: row marginal (..., n) (broadcast over the batch), default uniform 1/n.
        b: column marginal (..., m), default uniform 1/m. Same total mass as ``a``.
        epsilon: entropic regularisation (> 0). Stable down to 1e-3 on costs in [0, 1].
        n_iters: K, the number of normalisation steps (half-steps: row, column, row, ...) at
            the target epsilon, as in Sinkformer and QDSFormer; with ``tol`` too it is the
            cap. Odd K ends on a row step (rows sum to ``a``); K = 1 is softmax.
        tol: stop when the marginal error (L1 over rows + columns, max over the batch) falls
            below it; the stop happens after a row step, so rows are exact.
        check_every: with ``tol``, test convergence every this many half-steps. Default: 2
            (every iteration) for ``"absorb"``, whose test is O(n + m) and which syncs every
            half-step anyway; 10 for ``"log"`` (each test is a host sync).
        method: ``"log"`` (log-sum-exp half-steps, no host sync), ``"absorb"`` (cached kernel,
            matrix-vector half-steps with absorption; several times faster, one host sync per
            half-step), or ``"auto"``: absorb when ``tol`` is given (convergence checks sync
            anyway), log for a fixed ``n_iters`` (the attention path: no sync at all).
        grad: ``"unroll"`` (autograd through every iteration) or ``"implicit"`` (iterations
            without autograd, then the implicit-function gradient at the fixed point; memory
            does not grow with the iteration count; exact at convergence), or ``"envelope"``
            (iterations without autograd, potentials treated as constants: by the envelope
            (Danskin) theorem the gradient of ``value`` is exact, d value / dC = P; gradients
            of ``plan`` and ``transport_cost`` are then only their explicit part; cheapest).
        epsilon_scaling: None, or a factor in (0, 1): anneal epsilon from the cost's spread
            down to ``epsilon`` by this factor. With ``tol``, each stage runs until its marginal
            error is below ``max(tol, 1e-2 * mass)`` (:data:`STAGE_TOL`); without, one row and
            one column step per stage. Annealing is skipped when epsilon is not below the
            spread by :data:`MIN_SCALING_RATIO` (a cold start is then as fast: measured on the
            POT-parity problems, scaling never costs more steps than none). The stages'
            half-steps count in ``half_steps`` of the result, not in the budget.
        init: warm start (f, g), shapes (..., n), (..., m), in cost units; default zeros.
            The first row step only reads g. With ``symmetric``: the start is (f + g) / 2.
        symmetric: self-transport OT_eps(a, a) on a symmetric cost (n = m, ``b`` None or
            equal to ``a``): one potential f = g and the averaged update f <- (f + T(f)) / 2
            (Feydy et al. 2019, :mod:`qdsformer.ot.symmetric`), which converges where the
            alternating steps oscillate (small epsilon). Each update is one log-sum-exp (one
            half-step); log domain only (``method`` "auto" or "log"); the error is
            checked every ``check_every`` updates (default 1). ``grad="implicit"`` solves the
            symmetric fixed point's (n, n) system.

    Returns:
        SinkhornResult(plan, f, g, transport_cost, half_steps, marginal_l1_error, value).

    An empty batch (a zero in the leading dimensions of ``cost_matrix``) returns empty
    results of the right shapes (backward works, with empty gradients).

    Warns:
        ConvergenceWarning: ``tol`` was given and the marginal error is still >= ``tol`` when
            ``n_iters`` runs out (never without ``tol``: a fixed iteration count is intended).
        ImplicitGradientWarning: with ``grad="implicit"``, in backward, when the implicit
            system is singular (tiny epsilon, e.g. 1e-4 on costs in [0, 1]): the envelope
            gradient is used for those problems (exact for ``value``; ``plan`` gets only its
            explicit part); ``grad="unroll"`` gives the full gradient.

    Raises:
        ValueError: non-finite or wrongly shaped cost or weights, negative weights, unequal
            masses, epsilon <= 0, neither n_iters nor tol, unknown method or grad; with
            ``symmetric``: a non-square or non-symmetric cost, b != a, or method "absorb".
    """
    cost = cost_matrix
    _check_inputs(cost, a, b, epsilon, n_iters, tol, method, grad, epsilon_scaling)
    if not isinstance(symmetric, bool):
        raise ValueError(f"symmetric must be True or False, got {symmetric!r}")
    if symmetric:
        cost = _symmetric_cost(cost, a, b, method)
    if init is not None and (len(init) != 2 or not all(torch.isfinite(t).all() for t in init)):
        raise ValueError("init must be a pair (f, g) of finite tensors")
    a_full = _marginal(a, cost, -2)  # (..., n)
    b_full = _marginal(b, cost, -1)  # (..., m)
    if cost.numel() == 0:  # an empty batch: empty results, still attached to the graph
        return _empty_result(cost, a_full, b_full)
    if method == "auto":
        method = "absorb" if tol is not None else "log"
    if check_every is None:
        check_every = 1 if symmetric else 2 if method == "absorb" else 10
    elif int(check_every) != check_every or check_every < 1:
        raise ValueError(f"check_every must be a positive integer, got {check_every}")
    if symmetric:
        f, g, done, error = _solve_self(cost, a_full, epsilon, n_iters, tol, check_every, grad,
                                        epsilon_scaling, init)
    elif grad in ("implicit", "envelope"):
        with torch.no_grad():
            f, g, done, error = _solve(cost, a_full, b_full, epsilon, n_iters, tol, check_every,
                                       method, epsilon_scaling, init)
        if grad == "implicit":
            f, g = _ImplicitPotentials.apply(cost, a_full, b_full, f, g, float(epsilon))
    else:
        f, g, done, error = _solve(cost, a_full, b_full, epsilon, n_iters, tol, check_every,
                                   method, epsilon_scaling, init)
    plan = torch.exp((f.unsqueeze(-1) + g.unsqueeze(-2) - cost) / epsilon)  # (..., n, m)
    converged = error is not None  # the loop measured an error below tol
    if error is None:
        error = marginal_l1_error(plan, a_full, b_full)
    if tol is not None and not converged and float(error) >= tol:  # asked for tol: one sync
        warn_not_converged("sinkhorn", float(error), tol, f"{done} half-steps",
                           "raise n_iters or epsilon, or use epsilon_scaling")
    transport = (plan * cost).sum(dim=(-2, -1))  # (...)
    # OT_eps = <P, C> + eps KL(P | a b^T) from the dual D(f, g) = <a, f> + <b, g> - eps <P, 1>
    # + eps <a, 1> - eps (<a, log a> + <b, log b>): equal at the optimum, and dD/dC = P, dD/da = f
    # at fixed potentials, which makes the envelope gradient exact
    entropy_ab = torch.xlogy(a_full, a_full).sum(-1) + torch.xlogy(b_full, b_full).sum(-1)
    mass_gap = plan.sum(dim=(-2, -1)) - a_full.sum(-1)  # (...), 0 at convergence
    # zero weights carry potentials of -inf: their terms are 0, not -inf * 0 = NaN
    fa = torch.where(a_full > 0, f * a_full, torch.zeros_like(f))  # (..., n)
    gb = torch.where(b_full > 0, g * b_full, torch.zeros_like(g))  # (..., m)
    value = fa.sum(-1) + gb.sum(-1) - epsilon * (mass_gap + entropy_ab)
    return SinkhornResult(plan, f, g, transport, done, error.detach(), value)


def _symmetric_cost(cost: torch.Tensor, a, b, method: str) -> torch.Tensor:
    """The cost of a self-transport problem, checked and symmetrised: (C + C^T) / 2.

    Symmetrising (rounding-level changes, e.g. of a float32 ``cdist``) keeps the fixed point
    exactly symmetric and routes gradients to both C_ij and C_ji, as the cost of a cloud with
    itself has them.
    """
    if cost.shape[-1] != cost.shape[-2]:
        raise ValueError(f"symmetric=True needs a square cost (n, n), got shape {tuple(cost.shape)}")
    if method == "absorb":
        raise ValueError("symmetric=True runs log-domain updates; method must be 'auto' or 'log', "
                         "got 'absorb'")
    if b is not None and (a is None or a.shape != b.shape or not torch.equal(a, b)):
        raise ValueError("symmetric=True transports a onto itself: pass b=None or b equal to a")
    plain = cost.detach()  # (..., n, n)
    gap = float((plain - plain.transpose(-2, -1)).abs().amax()) if plain.numel() else 0.0
    scale = float(plain.abs().amax()) if plain.numel() else 0.0
    if gap > 1e3 * torch.finfo(cost.dtype).eps * max(scale, 1.0):
        raise ValueError(f"symmetric=True needs a symmetric cost, max |C - C^T| is {gap:.3g}")
    return 0.5 * (cost + cost.transpose(-2, -1))  # (..., n, n)


def _solve_self(cost, a, epsilon, n_iters, tol, check_every, grad, scaling, init):
    """The symmetric mode: (f, g = f, updates done, error or None), gradients per ``grad``."""
    start = None
    if init is not None:
        try:
            start = (0.5 * (init[0] + init[1])).to(a.dtype).expand_as(a)  # (..., n)
        except RuntimeError as err:
            raise ValueError(f"init shapes {tuple(init[0].shape)}, {tuple(init[1].shape)} do not "
                             f"match {tuple(a.shape)}") from err
    stages = _epsilon_schedule(cost, epsilon, scaling)
    stage_tol = None
    if stages and tol is not None:
        stage_tol = max(tol, STAGE_TOL * float(a.sum(-1).amax()))
    args = (a, epsilon, stages, n_iters, tol, stage_tol, check_every)
    if grad == "unroll":
        f, done, error = solve_symmetric(cost, *args, start)
    else:
        with torch.no_grad():
            f, done, error = solve_symmetric(cost.detach(), *args, start)
        if grad == "implicit":
            f = ImplicitSelfPotential.apply(cost, a, f, float(epsilon))
    return f, f, done, error


def _empty_result(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> SinkhornResult:
    """The result for an empty batch (cost (..., n, m) with a zero batch dimension)."""
    plan = cost * 0.0  # (..., n, m), empty, differentiable (zero gradient)
    f = plan.sum(-1) + a * 0.0  # (..., n)
    g = plan.sum(-2) + b * 0.0  # (..., m)
    total = plan.sum(dim=(-2, -1))  # (...)
    return SinkhornResult(plan, f, g, total, 0, cost.new_zeros(()), total)


def marginal_l1_error(plan: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """max over the batch of sum_i |P 1 - a|_i + sum_j |P^T 1 - b|_j, a 0-dim tensor.

    The L1 marginal error of a transport plan against its marginals (the stopping criterion of
    :func:`sinkhorn`); not :func:`qdsformer.analysis.marginal_max_error`, which is the
    largest deviation of a matrix's row / column sums from 1, per matrix.
    """
    plan = plan.detach()  # (..., n, m)
    row = (plan.sum(-1) - a).abs().sum(-1)
    col = (plan.sum(-2) - b).abs().sum(-1)
    return (row + col).max()


def sinkhorn_potentials(cost: torch.Tensor, epsilon: float = 1.0,
                        n_iters: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Only the potentials (f, g) after ``n_iters`` log-domain half-steps, uniform marginals.

    The attention path's entry to the one Sinkhorn kernel (the same half-steps as
    :func:`sinkhorn` with ``method="log"``): no plan, cost, value or marginal error is
    formed and nothing is validated beyond what needs no host-device sync (callers check
    finiteness themselves, or let NaN reach the loss).

    Args:
        cost: C (..., n, m).
        epsilon: entropic regularisation (> 0).
        n_iters: half-steps, >= 1 (odd counts end on a row step).

    Returns:
        f (..., n), g (..., m) in cost units; P_ij = exp((f_i + g_j - C_ij) / epsilon).
    """
    if cost.dim() < 2:
        raise ValueError(f"cost must be (..., n, m), got shape {tuple(cost.shape)}")
    if not epsilon > 0 or int(n_iters) != n_iters or n_iters < 1:
        raise ValueError(f"need epsilon > 0 and a positive integer n_iters, got {epsilon}, "
                         f"{n_iters}")
    a = _marginal(None, cost, -2)  # (..., n)
    b = _marginal(None, cost, -1)  # (..., m)
    f, g, _, _ = _solve(cost, a, b, epsilon, int(n_iters), None, 10, "log", None, None)
    return f, g
