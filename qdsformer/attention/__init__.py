"""Attention normalisers behind one interface, and the timm attention layer that uses them.

    norm = create_normalizer("sinkhorn", n_iters=3)
    P = norm(scores)   # scores (B, H, T, T), scaled by head_dim**-0.5 -> P (B, H, T, T)

    norm = create_normalizer("esp")      # norm.consumes == "qk"
    P = norm(q, k)     # q, k (B, H, T, d), each scaled by head_dim**-0.5 -> P (B, H, T, T)
"""

# Importing the normaliser modules registers them.
from qdsformer.attention import esp, lot, qontot, qr, sinkhorn, softmax  # noqa: F401
from qdsformer.attention.qk import QKNormalizer, qk_from_scores
from qdsformer.attention.registry import (
    NORMALIZERS,
    Normalizer,
    create_normalizer,
    get_normalizer_class,
    list_normalizers,
    register_normalizer,
)
from qdsformer.attention.setting import OperatorSetting, parse_setting

__all__ = [
    "NORMALIZERS",
    "Normalizer",
    "OperatorSetting",
    "QKNormalizer",
    "create_normalizer",
    "get_normalizer_class",
    "list_normalizers",
    "parse_setting",
    "qk_from_scores",
    "register_normalizer",
]
