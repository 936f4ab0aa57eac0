"""One interface for every attention normaliser.

A normaliser is an ``nn.Module`` mapping scaled scores S (B, H, T, T) to attention
P (B, H, T, T) whose rows sum to 1; doubly stochastic ones also have columns summing to 1.
A normaliser whose class sets ``consumes = "qk"`` (see :mod:`qdsformer.attention.qk`) takes
the queries and keys (B, H, T, d), each already scaled by head_dim**-0.5, instead of S.
Normalisers register themselves with :func:`register_normalizer`; users call
:func:`create_normalizer` by name.
"""

from __future__ import annotations

import torch
from torch import nn

from qdsformer.common.registry import Registry


class Normalizer(nn.Module):
    """Base class: validates the scores, then calls :meth:`normalize`.

    Class attributes:
        doubly_stochastic: output columns also sum to 1.
        requires_square: scores must be (.., T, T).
        paper: where the operator comes from (shown by ``qdsformer list``).
        consumes: ``"scores"`` (this class: ``P = norm(scores)``) or ``"qk"``
            (:class:`qdsformer.attention.qk.QKNormalizer`: ``P = norm(q, k)``); callers such
            as the timm attention layer pass what it names.
    """

    doubly_stochastic: bool = False
    requires_square: bool = False
    paper: str = ""
    consumes: str = "scores"

    def __init__(self, check_finite: bool = True) -> None:
        super().__init__()
        self.check_finite = check_finite

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """scores (B, H, T, T) already scaled by head_dim**-0.5 -> attention (B, H, T, T)."""
        self.validate(scores)
        return self.normalize(scores)

    def validate(self, scores: torch.Tensor) -> None:
        """Raise ValueError naming the problem for wrong rank, non-square or non-finite scores."""
        if scores.dim() != 4:
            raise ValueError(
                f"{self.name}: scores must have shape (B, H, T, T), got shape {tuple(scores.shape)}"
            )
        if self.requires_square and scores.shape[-1] != scores.shape[-2]:
            raise ValueError(
                f"{self.name}: needs square score matrices, got {scores.shape[-2]}x{scores.shape[-1]}"
            )
        if self.check_finite and not torch.isfinite(scores).all():
            raise ValueError(f"{self.name}: scores contain NaN or infinite values")

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement normalize()")

    @property
    def name(self) -> str:
        return getattr(type(self), "registry_name", type(self).__name__)


#: Normaliser classes by name; each registered class gets its name as ``registry_name``.
NORMALIZERS: Registry[type[Normalizer]] = Registry("attention normaliser",
                                                    name_attribute="registry_name")

#: ``@register_normalizer("name")``: class decorator adding a :class:`Normalizer` subclass.
register_normalizer = NORMALIZERS.register
#: Names of all registered normalisers, sorted.
list_normalizers = NORMALIZERS.names
#: The registered class for ``name``; ValueError listing the known names otherwise.
get_normalizer_class = NORMALIZERS.get


def create_normalizer(name: str, **kwargs) -> Normalizer:
    """Build the normaliser registered as ``name`` with its keyword arguments."""
    cls = get_normalizer_class(name)
    try:
        return cls(**kwargs)
    except TypeError as err:  # unknown keyword: say which normaliser and what it takes
        raise ValueError(f"bad arguments for attention normaliser {name!r}: {err}") from err
