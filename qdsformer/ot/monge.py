"""Monge gap (Uscidda & Cuturi, ICML 2023) and a small Monge-map fitter.

For a map T and a reference measure rho, the Monge gap is

    M_rho(T) = E_{x ~ rho} c(x, T(x)) - W_c(rho, T#rho) >= 0,

zero iff T is a c-optimal map between rho and its image. On samples x_1..x_n (weights a) the
estimator replaces W_c by the entropic OT value between the samples and their images:

    M_hat(T) = sum_i a_i c(x_i, T(x_i)) - OT_eps((x, a), (T(x), a)).

:func:`fit_monge_map` fits an MLP map from source to target samples by minimising
S_eps(T#mu, nu) + lambda * M_hat(T) (the paper's fitting loss; OTT-JAX ``monge_gap``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from qdsformer.common.checks import check_int, check_number
from qdsformer.ot.costs import Cost, check_cloud, pairwise_cost
from qdsformer.ot.divergence import entropic_ot, sinkhorn_divergence

log = logging.getLogger(__name__)


def monge_gap(
    x: torch.Tensor,
    tx: torch.Tensor,
    a: torch.Tensor | None = None,
    *,
    cost_fn: Cost = "sqeuclidean",
    epsilon: float = 0.01,
    tol: float | str | None = "auto",
    **sinkhorn_kwargs,
) -> torch.Tensor:
    """Monge gap estimator M_hat(T) = sum_i a_i c(x_i, T x_i) - OT_eps(x, T x).

    Args:
        x: samples (..., n, d).
        tx: their images T(x) (..., n, d'), paired row by row with ``x``.
        a: sample weights (..., n), default uniform.
        cost_fn: ground cost c (name or callable), see :func:`qdsformer.ot.costs.pairwise_cost`.
        epsilon: entropic regularisation of the OT term, in units of the cost. The estimator
            is biased by O(epsilon log n) (negative for an optimal map); keep epsilon small.
        tol: passed to :func:`qdsformer.ot.entropic_ot` (default tol by dtype).
        **sinkhorn_kwargs: passed to :func:`qdsformer.ot.entropic_ot`.

    Returns:
        M_hat, shape (...).
    """
    check_cloud(x, "x")
    check_cloud(tx, "tx")
    if x.shape[:-1] != tx.shape[:-1]:
        raise ValueError(
            f"x and tx must pair point by point, got shapes {tuple(x.shape)} and {tuple(tx.shape)}"
        )
    n = x.shape[-2]
    weights = a if a is not None else torch.full(x.shape[:-1], 1.0 / n, dtype=x.dtype,
                                                 device=x.device)
    # displacement cost c(x_i, T x_i): the diagonal of the pairwise cost of single points
    displacement = pairwise_cost(x.unsqueeze(-2), tx.unsqueeze(-2), cost_fn=cost_fn)[..., 0, 0]  # (..., n)
    moved = (weights * displacement).sum(-1)  # (...)
    return moved - entropic_ot(x, tx, weights, weights, epsilon=epsilon, cost_fn=cost_fn, tol=tol,
                               **sinkhorn_kwargs)


class MongeMap(nn.Module):
    """T(x) = x + MLP(x): a residual MLP map R^d -> R^d (identity at zero output weights)."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 2) -> None:
        super().__init__()
        for key, value in (("dim", dim), ("hidden", hidden), ("depth", depth)):
            check_int("MongeMap", key, value, low=1)
        layers: list[nn.Module] = []
        width = dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        last = nn.Linear(width, dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)  # (..., d)


@dataclass
class MongeFit:
    """Result of :func:`fit_monge_map`: the fitted map and the per-step losses."""

    map: MongeMap
    loss: list[float] = field(default_factory=list)
    divergence: list[float] = field(default_factory=list)
    gap: list[float] = field(default_factory=list)


def fit_monge_map(
    source: torch.Tensor,
    target: torch.Tensor,
    *,
    lam: float = 1.0,
    epsilon: float = 0.01,
    steps: int = 500,
    lr: float = 1e-3,
    batch_size: int = 256,
    hidden: int = 64,
    depth: int = 2,
    seed: int = 0,
    cost_fn: Cost = "sqeuclidean",
) -> MongeFit:
    """Fit T: source -> target by minimising S_eps(T#mu, nu) + lam * M_hat(T) with Adam.

    Args:
        source: samples of mu (n, d).
        target: samples of nu (m, d).
        lam: weight of the Monge gap regulariser (0: fit with the divergence only).
        epsilon: entropic regularisation of both terms.
        steps: optimisation steps; each draws ``batch_size`` samples from each cloud.
        lr: Adam learning rate.
        batch_size: mini-batch size.
        hidden: width of the MLP map.
        depth: hidden layers of the MLP map.
        seed: RNG seed.
        cost_fn: ground cost (name or callable).

    Returns:
        MongeFit with the map (eval mode) and per-step loss, divergence and gap.
    """
    check_cloud(source, "source")
    check_cloud(target, "target")
    if source.dim() != 2 or target.dim() != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(
            f"source and target must be (n, d) and (m, d) with the same d, got "
            f"{tuple(source.shape)} and {tuple(target.shape)}"
        )
    check_number("fit_monge_map", "lam", lam, low=0)
    check_number("fit_monge_map", "epsilon", epsilon, low=0, low_open=True)
    check_number("fit_monge_map", "lr", lr, low=0, low_open=True)
    for key, value, low in (("steps", steps, 1), ("batch_size", batch_size, 1),
                            ("hidden", hidden, 1), ("depth", depth, 1), ("seed", seed, 0)):
        check_int("fit_monge_map", key, value, low=low)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = MongeMap(source.shape[1], hidden, depth).to(source.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    fit = MongeFit(model)
    for step in range(steps):
        xs = source[torch.randint(len(source), (min(batch_size, len(source)),), generator=gen)]
        ys = target[torch.randint(len(target), (min(batch_size, len(target)),), generator=gen)]
        mapped = model(xs)  # (batch, d)
        div = sinkhorn_divergence(mapped, ys, epsilon=epsilon, cost_fn=cost_fn)
        gap = monge_gap(xs, mapped, epsilon=epsilon, cost_fn=cost_fn) if lam > 0 else div.new_zeros(())
        loss = div + lam * gap
        opt.zero_grad()
        loss.backward()
        opt.step()
        fit.loss.append(float(loss.detach()))
        fit.divergence.append(float(div.detach()))
        fit.gap.append(float(gap.detach()))
        if step % 100 == 0:
            log.info("step %d loss %.4g divergence %.4g gap %.4g", step, fit.loss[-1],
                     fit.divergence[-1], fit.gap[-1])
    model.eval()
    return fit
