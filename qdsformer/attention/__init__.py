"""Attention normalisers behind one interface, and the timm attention layer that uses them.

    norm = create_normalizer("sinkhorn", n_iters=3)
    P = norm(scores)   # scores (B, H, T, T), scaled by head_dim**-0.5 -> P (B, H, T, T)

    norm = create_normalizer("esp")      # norm.consumes == "qk"
    P = norm(q, k)     # q, k (B, H, T, d), each scaled by head_dim**-0.5 -> P (B, H, T, T)
"""

# Importing the backend modules registers them.
from qdsformer.attention import esp, lot, qontot, qr, sinkhorn, softmax  # noqa: F401
from qdsformer.attention.qk import QKNormalizer, qk_from_scores
from qdsformer.attention.registry import (
    Normalizer,
    create_normalizer,
    get_normalizer_class,
    list_normalizers,
    register_normalizer,
)

__all__ = [
    "Normalizer",
    "QKNormalizer",
    "create_normalizer",
    "get_normalizer_class",
    "list_normalizers",
    "qk_from_scores",
    "register_normalizer",
]
