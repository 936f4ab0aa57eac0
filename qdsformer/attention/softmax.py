"""Row-stochastic baselines: softmax and NormSoftmax (softmax_sigma, softmax_sigma2)."""

from __future__ import annotations

import math

import torch

from qdsformer.attention.registry import Normalizer, register_normalizer
from qdsformer.common.checks import check_int, check_number


@register_normalizer("softmax")
class Softmax(Normalizer):
    """P = softmax(S) over the key axis (Vaswani et al., 2017)."""

    paper = "Vaswani et al., NeurIPS 2017"

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.softmax(scores, dim=-1)  # (B, H, T, T)


class _NormSoftmax(Normalizer):
    """NormSoftmax: P = softmax(S_raw / min(sqrt(d), s)), s a row statistic of S_raw.

    The scores arrive scaled, S = S_raw / sqrt(d), so S_raw = S * sqrt(d) and
    P = softmax(S * sqrt(d) / min(sqrt(d), s)). The statistic is detached from neither side:
    gradients flow through s as in the QDSFormer paper's definition.

    Args:
        head_dim: d, the per-head feature size the scores were scaled with.
        eps: floor on s so constant rows do not divide by zero.
    """

    paper = "NormSoftmax, as compared in QDSFormer (Born et al., 2025)"
    power: int = 1

    def __init__(self, head_dim: int = 64, eps: float = 1e-6, check_finite: bool = True) -> None:
        super().__init__(check_finite=check_finite)
        self.head_dim = check_int(self.name, "head_dim", head_dim, low=1)
        self.eps = check_number(self.name, "eps", eps, low=0, low_open=True)

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        sqrt_d = math.sqrt(self.head_dim)
        raw = scores * sqrt_d  # (B, H, T, T) unscaled scores
        std = raw.std(dim=-1, keepdim=True, unbiased=False)  # (B, H, T, 1)
        stat = std**self.power
        denom = torch.clamp(stat, min=self.eps).clamp(max=sqrt_d)  # min(sqrt(d), s)
        return torch.softmax(raw / denom, dim=-1)  # (B, H, T, T)


@register_normalizer("softmax_sigma")
class SoftmaxSigma(_NormSoftmax):
    """NormSoftmax with s = row standard deviation of the unscaled scores."""

    power = 1


@register_normalizer("softmax_sigma2")
class SoftmaxSigma2(_NormSoftmax):
    """NormSoftmax with s = row variance of the unscaled scores."""

    power = 2
