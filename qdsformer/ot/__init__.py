"""Optimal transport: the one Sinkhorn kernel and the tools built on it.

- :func:`sinkhorn`: batched log-stabilised Sinkhorn (epsilon scaling, unrolled / implicit /
  envelope gradients).
- :func:`entropic_ot`, :func:`sinkhorn_divergence`: entropic OT value and its debiased form on
  weighted point clouds.
- :func:`sns`: Sinkhorn-Newton-Sparse, entropic OT to machine accuracy.
- :func:`monge_gap`, :func:`fit_monge_map`: Monge gap regulariser and an MLP map fitter.
- :func:`birkhoff_projection`: Euclidean projection onto the doubly stochastic matrices.
- :class:`ConvergenceWarning`, :class:`ImplicitGradientWarning`: what the solvers warn with.
"""

from qdsformer.ot.birkhoff import birkhoff_projection
from qdsformer.ot.convergence import ConvergenceWarning, ImplicitGradientWarning
from qdsformer.ot.costs import pairwise_cost
from qdsformer.ot.divergence import entropic_ot, sinkhorn_divergence
from qdsformer.ot.monge import MongeFit, MongeMap, fit_monge_map, monge_gap
from qdsformer.ot.sinkhorn import SinkhornResult, marginal_l1_error, sinkhorn
from qdsformer.ot.sns import SNSResult, sns

__all__ = [
    "ConvergenceWarning",
    "ImplicitGradientWarning",
    "MongeFit",
    "MongeMap",
    "SNSResult",
    "SinkhornResult",
    "birkhoff_projection",
    "entropic_ot",
    "fit_monge_map",
    "marginal_l1_error",
    "monge_gap",
    "pairwise_cost",
    "sinkhorn",
    "sinkhorn_divergence",
    "sns",
]
