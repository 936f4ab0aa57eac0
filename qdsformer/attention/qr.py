"""Orthostochastic attention from a QR decomposition of the scores."""

from __future__ import annotations

import torch

from qdsformer.attention.registry import Normalizer, register_normalizer


@register_normalizer("qr")
class QRAttention(Normalizer):
    """P = Q * Q (entrywise) with S = Q R, ``torch.linalg.qr``: exactly doubly stochastic.

    Q is orthogonal, so every row and column of Q*Q sums to 1 (an orthostochastic matrix).
    The QR backward is undefined for rank-deficient S; only then (numerical rank < T, tested
    without a host sync) is tiny Gaussian noise, N(0, noise_std^2), added to S, as in the
    QDSFormer paper (noise N(0, 1e-7)).

    Args:
        noise_std: standard deviation of the regularising noise.
        rank_tol: singular values below rank_tol * max singular value count as zero.
    """

    doubly_stochastic = True
    requires_square = True
    paper = "QR operator, as compared in QDSFormer (Born et al., 2025)"

    def __init__(self, noise_std: float = 1e-7**0.5, rank_tol: float = 1e-6,
                 check_finite: bool = True) -> None:
        super().__init__(check_finite=check_finite)
        self.noise_std = noise_std
        self.rank_tol = rank_tol

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        sv = torch.linalg.svdvals(scores.detach())  # (B, H, T)
        deficient = sv[..., -1] <= self.rank_tol * sv[..., 0].clamp_min(1e-30)  # (B, H)
        noise = torch.randn_like(scores) * self.noise_std  # (B, H, T, T)
        scores = scores + noise * deficient[..., None, None].to(scores.dtype)
        q, _ = torch.linalg.qr(scores)  # (B, H, T, T)
        return q * q
