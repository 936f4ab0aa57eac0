"""Normalisers that consume the queries and keys instead of the score matrix.

Some doubly stochastic attentions are transport plans between the query and key point clouds
(ESPFormer, LOTFormer) and cannot be computed from S = q k^T alone. They subclass
:class:`QKNormalizer`, which sets ``consumes = "qk"``:

    P = norm(q, k)     # q, k (B, H, T, d), each scaled by head_dim**-0.5 -> P (B, H, T, T)
    out = norm.attend(q, k, v)   # P @ v (B, H, T, d_v); may skip forming P (``lot``)

Both reference implementations scale q and k by head_dim**-0.5 before the transport
(ESPFormer ``attentions/esp.py``, LOTFormer ``models/lot_deit.py``), so the timm layer passes
``q * scale, k * scale``. Tools that only hold score matrices (``qdsformer analyze``) factorise
them with :func:`qk_from_scores`.
"""

from __future__ import annotations

import torch

from qdsformer.attention.registry import Normalizer


class QKNormalizer(Normalizer):
    """Base class of the (q, k) normalisers: validates q and k, then calls :meth:`normalize_qk`.

    Subclasses implement ``normalize_qk(q, k) -> P`` and may override :meth:`attend` with a
    path that never forms P, and :meth:`prefers_attend` to say when callers should use it.
    """

    consumes = "qk"
    requires_square = True

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """q, k (B, H, T, d), each scaled by head_dim**-0.5 -> attention P (B, H, T, T)."""
        self.validate_qk(q, k)
        return self.normalize_qk(q, k)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """P @ v for q, k (B, H, T, d) and v (B, H, T, d_v) -> (B, H, T, d_v)."""
        self.validate_qk(q, k, v)
        return self.normalize_qk(q, k) @ v  # (B, H, T, d_v)

    def prefers_attend(self, n_tokens: int) -> bool:
        """Whether :meth:`attend` is cheaper than forming P for ``n_tokens`` tokens."""
        return False

    def validate_qk(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor | None = None
                    ) -> None:
        """Raise ValueError naming the problem: wrong rank or shapes, non-finite entries."""
        for label, t in (("q", q), ("k", k)) + ((("v", v),) if v is not None else ()):
            if not isinstance(t, torch.Tensor) or t.dim() != 4:
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"{self.name}: {label} must have shape (B, H, T, d), got {shape}")
        if q.shape != k.shape:
            raise ValueError(f"{self.name}: q and k must have the same shape (B, H, T, d), got "
                             f"{tuple(q.shape)} and {tuple(k.shape)}")
        if v is not None and (v.shape[:3] != q.shape[:3]):
            raise ValueError(f"{self.name}: v must have shape (B, H, T, d_v) = "
                             f"{tuple(q.shape[:3])} + (d_v,), got {tuple(v.shape)}")
        if self.check_finite and not (torch.isfinite(q).all() and torch.isfinite(k).all()):
            raise ValueError(f"{self.name}: q or k contain NaN or infinite values")

    def normalize_qk(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} must implement normalize_qk()")


def qk_from_scores(scores: torch.Tensor, dim: int | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """q, k with q k^T = scores: the balanced SVD factors q = U S^1/2, k = V S^1/2.

    For tools that hold only score matrices M (the operator study). The factorisation is
    deterministic (``torch.linalg.svd``) but not the only one: any orthogonal rotation of both
    q and k keeps q k^T, and the (q, k) normalisers are not rotation invariant (ESPFormer
    slices along the coordinate axes), so their outputs on score inputs describe this choice.

    Args:
        scores: M, shape (..., T, T).
        dim: feature size d >= T of q and k (zero columns appended); default T.

    Returns:
        (q, k), each (..., T, d), with q @ k^T == scores up to rounding.
    """
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be (..., T, T), got shape {tuple(scores.shape)}")
    t = scores.shape[-1]
    dim = t if dim is None else int(dim)
    if dim < t:
        raise ValueError(f"qk_from_scores: dim must be >= T = {t} to keep q k^T exact, got {dim}")
    u, s, vh = torch.linalg.svd(scores)  # (..., T, T), (..., T), (..., T, T)
    root = s.sqrt().unsqueeze(-2)  # (..., 1, T)
    q = u * root  # (..., T, T)
    k = vh.transpose(-2, -1) * root  # (..., T, T)
    if dim > t:
        pad = scores.new_zeros(scores.shape[:-1] + (dim - t,))  # (..., T, d - T)
        q, k = torch.cat([q, pad], dim=-1), torch.cat([k, pad], dim=-1)
    return q, k
