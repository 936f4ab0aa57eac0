"""Sinkformer attention: doubly stochastic by Sinkhorn iterations (Sander et al., AISTATS 2022)."""

from __future__ import annotations

import torch

from qdsformer.attention.registry import Normalizer, register_normalizer
from qdsformer.common.checks import check_int, check_number
from qdsformer.ot.sinkhorn import sinkhorn_potentials


@register_normalizer("sinkhorn")
class SinkhornAttention(Normalizer):
    """P = T * Sinkhorn(C = -S, epsilon, uniform marginals), rows summing to 1.

    Calls the package's one Sinkhorn kernel (:func:`qdsformer.ot.sinkhorn`). The odd iteration
    count makes the last step a row step, so rows sum to 1 exactly and columns approach 1 as
    ``n_iters`` grows. ``n_iters=1`` equals softmax. Gradients are unrolled, as in Sinkformer.

    Args:
        n_iters: odd number of half-steps (default 3, the Sinkformer ViT setting).
        epsilon: entropic regularisation (default 1).
    """

    doubly_stochastic = True
    requires_square = True
    paper = "Sinkformer, Sander et al., AISTATS 2022"

    def __init__(self, n_iters: int = 3, epsilon: float = 1.0, check_finite: bool = True) -> None:
        super().__init__(check_finite=check_finite)
        self.n_iters = check_int("sinkhorn", "n_iters", n_iters, low=1)
        if n_iters % 2 == 0:
            raise ValueError(f"sinkhorn: n_iters must be odd (the last step fits the rows), "
                             f"got {n_iters}")
        self.epsilon = check_number("sinkhorn", "epsilon", epsilon, low=0, low_open=True)

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        # The last half-step fits the rows, so T * plan = softmax_j((g_j + S_ij) / epsilon):
        # written as a softmax it is exactly softmax(S) when n_iters = 1 (g = 0).
        # only the column potential is used: no plan, value or marginal error is formed
        _, g = sinkhorn_potentials(-scores, epsilon=self.epsilon, n_iters=self.n_iters)
        return torch.softmax((scores + g.unsqueeze(-2)) / self.epsilon, dim=-1)  # (B, H, T, T)
