"""Optimal transport solvers: our Sinkhorn vs POT vs GeomLoss, SNS vs Sinkhorn, batched attention.

Three parts on the same problems in one run (``--parts`` picks a subset):

1. ``large``: point clouds in the unit square, cost |x - y|^2 / 2, n in ``--sizes``
   (default 500 1000; the issue's full set is ``--sizes 500 2000 5000``), epsilon in
   ``--epsilons``. Our :func:`qdsformer.ot.sinkhorn` and POT ``ot.sinkhorn(method=
   "sinkhorn_log")`` (torch backend) run to marginal error ``--tol``; GeomLoss (``SamplesLoss``,
   epsilon scaling 0.9) has no tolerance, it runs its annealing schedule.
2. ``sns``: Sinkhorn-Newton-Sparse vs our Sinkhorn vs POT, n = ``--sns-n``, eta = 1/epsilon =
   ``--eta``, random-assignment costs (uniform [0, 1]), to marginal error 1e-10 or the budget.
3. ``batch``: attention-sized batches (B = ``--batch``, T in ``--tokens``) vs POT's batch solver
   ``ot.batch.solve_batch(method="log_sinkhorn")``.

Every record stores the iterations and the achieved marginal error (L1, rows + columns, our
:func:`qdsformer.ot.marginal_l1_error`), so speed is compared at equal accuracy. Ratios printed are
time / POT's time (below 1: faster than POT).
"""

from __future__ import annotations

import argparse
import functools
import logging

import torch

from qdsformer.apps.bench.harness import (
    Record,
    environment,
    limit_threads,
    median_time,
    ratio_table,
    write_json,
)
from qdsformer.ot import marginal_l1_error, pairwise_cost, sinkhorn, sns

log = logging.getLogger(__name__)

PARTS = ("large", "sns", "batch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000],
                        help="cloud sizes n for part 1 (issue: 500 2000 5000)")
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument("--tol", type=float, default=1e-6, help="marginal error, parts 1 and 3")
    parser.add_argument("--max-iters", type=int, default=20_000,
                        help="iteration cap (row + column pairs) for parts 1 and 3")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--no-geomloss", action="store_true", help="skip GeomLoss in part 1")
    parser.add_argument("--sns-n", type=int, default=500)
    parser.add_argument("--eta", type=float, default=1200.0)
    parser.add_argument("--sinkhorn-budget", type=int, default=200_000,
                        help="our Sinkhorn's iteration budget in part 2 (paper: 56,199 needed)")
    parser.add_argument("--pot-budget", type=int, default=5_000,
                        help="POT's iteration budget in part 2 (a Python loop: slow)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--tokens", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--batch-epsilon", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="results/bench/ot.json", help="output path")


def _timed(fn, repeats: int, warmup: int = 0):
    """(median seconds, last output) of ``fn()``; no warm-up call by default (long runs)."""
    out = {}

    def call():
        out["value"] = fn()

    seconds = median_time(call, repeats=repeats, warmup=warmup)
    return seconds, out["value"]


def _record(records, case, impl, seconds, plan, a, b, iters, **extra):
    err = float(marginal_l1_error(plan.to(a.dtype), a, b))
    records.append(Record(case, impl, seconds, {"iters": iters, "marginal_l1_error": err} | extra))
    log.info("%s %-9s %.3e s  iters %s  marginal error %.2e", case, impl, seconds, iters, err)


def _large(args, dtype, device, records) -> None:
    import ot


    gen = torch.Generator().manual_seed(args.seed)
    for n in args.sizes:
        x = torch.rand(n, 2, generator=gen, dtype=dtype).to(device)  # (n, 2)
        y = torch.rand(n, 2, generator=gen, dtype=dtype).to(device)
        cost = pairwise_cost(x, y) / 2  # (n, n), in [0, 1]
        a = torch.full((n,), 1.0 / n, dtype=dtype, device=device)
        for eps in args.epsilons:
            case = f"clouds_n{n}_eps{eps:g}"
            seconds, res = _timed(functools.partial(
                sinkhorn, cost, a, a, epsilon=eps, tol=args.tol, n_iters=2 * args.max_iters,
                method="absorb"), args.repeats)
            _record(records, case, "ours", seconds, res.plan, a, a, res.half_steps // 2)
            seconds, (plan, info) = _timed(functools.partial(
                ot.sinkhorn, a, a, cost, eps, method="sinkhorn_log", stopThr=args.tol,
                numItermax=args.max_iters, log=True), args.repeats)
            _record(records, case, "pot", seconds, plan, a, a, int(info["niter"]))
            if not args.no_geomloss:
                _geomloss(records, case, x, y, a, cost, eps, args.repeats)


def _geomloss(records, case, x, y, a, cost, eps, repeats) -> None:
    try:
        from geomloss import SamplesLoss
    except ImportError:  # pragma: no cover - geomloss is in the dev extra
        log.warning("geomloss is not installed; skipping it")
        return
    # GeomLoss's p=2 cost is |x - y|^2 / 2 and its blur is epsilon^(1/p)
    solver = SamplesLoss("sinkhorn", p=2, blur=eps ** 0.5, scaling=0.9, debias=False,
                         potentials=True, backend="tensorized")
    seconds, (f, g) = _timed(lambda: solver(a, x, a, y), repeats)
    f, g = f.reshape(-1), g.reshape(-1)
    plan = a[:, None] * a[None, :] * torch.exp((f[:, None] + g[None, :] - cost) / eps)
    _record(records, case, "geomloss", seconds, plan, a, a, "scaling 0.9")


def _sns(args, records) -> None:
    import ot


    n, eps = args.sns_n, 1.0 / args.eta
    gen = torch.Generator().manual_seed(args.seed)
    cost = torch.rand(n, n, generator=gen, dtype=torch.float64)  # random assignment
    a = torch.full((n,), 1.0 / n, dtype=torch.float64)
    case = f"assignment_n{n}_eta{args.eta:g}"
    seconds, res = _timed(lambda: sns(cost, a, a, epsilon=eps, tol=1e-10), args.repeats)
    _record(records, case, "sns", seconds, res.plan, a, a,
            res.sinkhorn_rounds + res.newton_iters, sinkhorn_rounds=res.sinkhorn_rounds,
            newton_iters=res.newton_iters, cg_iters=res.cg_iters)
    seconds, res = _timed(lambda: sinkhorn(cost, a, a, epsilon=eps, tol=1e-10, method="absorb",
                                           n_iters=2 * args.sinkhorn_budget), args.repeats)
    _record(records, case, "ours", seconds, res.plan, a, a, res.half_steps // 2)
    seconds, (plan, info) = _timed(
        lambda: ot.sinkhorn(a, a, cost, eps, method="sinkhorn_log", stopThr=1e-10,
                            numItermax=args.pot_budget, log=True), args.repeats)
    _record(records, case, "pot", seconds, plan, a, a, int(info["niter"]))


def _batch(args, dtype, device, records) -> None:
    from ot.batch import solve_batch


    gen = torch.Generator().manual_seed(args.seed)
    eps = args.batch_epsilon
    for t in args.tokens:
        cost = torch.rand(args.batch, t, t, generator=gen, dtype=dtype).to(device)  # (B, T, T)
        a = torch.full((args.batch, t), 1.0 / t, dtype=dtype, device=device)
        case = f"batch_B{args.batch}_T{t}_eps{eps:g}"
        repeats = max(args.repeats, 5)  # milliseconds: warm up, take the median of 5
        seconds, res = _timed(functools.partial(
            sinkhorn, cost, epsilon=eps, tol=args.tol, n_iters=2 * args.max_iters),
            repeats, warmup=1)
        _record(records, case, "ours", seconds, res.plan, a, a, res.half_steps // 2)
        seconds, out = _timed(functools.partial(
            solve_batch, cost, eps, a, a, max_iter=args.max_iters, tol=args.tol,
            method="log_sinkhorn", grad="detach"), repeats, warmup=1)
        _record(records, case, "pot", seconds, out.plan, a, a, "n/a")


def run(args: argparse.Namespace) -> int:
    limit_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    records: list[Record] = []
    if "large" in args.parts:
        _large(args, dtype, device, records)
    if "sns" in args.parts:
        _sns(args, records)
    if "batch" in args.parts:
        _batch(args, dtype, device, records)
    print(ratio_table(records, baseline="pot"))
    for r in records:
        print(f"{r.case:<28}{r.impl:>10}  {r.median_s:9.3f} s  iters {r.extra['iters']!s:>12}"
              f"  marginal error {r.extra['marginal_l1_error']:.1e}")
    meta = environment() | {"suite": "ot", "args": {k: v for k, v in vars(args).items()
                                                     if not k.startswith("_")}}
    path = write_json(records, args.json, meta=meta)
    print(f"wrote {path}")
    return 0
