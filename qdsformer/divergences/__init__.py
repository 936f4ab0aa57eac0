"""The f-divergence family: D_f(p || q) from logits, generators f, and f-distill weights h(r).

    divergence("js", p_logits, q_logits)          # scalar, mean over the batch
    weight("kl", r)                               # h(r) = f''(r) r^2 = r
"""

from qdsformer.divergences.fdiv import (
    FDivergence,
    describe,
    divergence,
    divergence_params,
    generator,
    get_divergence,
    list_divergences,
    reduce,
    weight,
)

__all__ = [
    "FDivergence",
    "describe",
    "divergence",
    "divergence_params",
    "generator",
    "get_divergence",
    "list_divergences",
    "reduce",
    "weight",
]
