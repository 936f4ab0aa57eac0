"""The timm attention layer whose softmax line calls a registered normaliser."""

from __future__ import annotations

import inspect

import torch
from timm.layers import Attention

from qdsformer.attention import create_normalizer, get_normalizer_class


class NormalizedAttention(Attention):
    """``timm.layers.Attention`` with ``softmax`` replaced by any registered normaliser.

    attn = normaliser(q k^T / sqrt(d)); out = proj(attn v). Set ``store_attention = True``
    to keep the last attention map (B, H, T, T) on its device in ``last_attention``; nothing
    is copied to the CPU. Subclasses made by :func:`attention_layer` fix the normaliser's name
    and keyword arguments, because timm builds the layer from a class.
    """

    normalizer_name: str = "softmax"
    normalizer_kwargs: dict = {}

    def __init__(self, dim: int, num_heads: int = 8, **kwargs) -> None:
        super().__init__(dim, num_heads=num_heads, **kwargs)
        self.fused_attn = False
        options = dict(self.normalizer_kwargs)
        if "head_dim" in _init_parameters(get_normalizer_class(self.normalizer_name)):
            options.setdefault("head_dim", self.head_dim)
        self.normalizer = create_normalizer(self.normalizer_name, **options)
        self.store_attention = False
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, attn_mask=None, is_causal: bool = False) -> torch.Tensor:
        if attn_mask is not None or is_causal:
            raise ValueError("NormalizedAttention does not support attention masks or causal mode")
        b, n, _ = x.shape
        gate = self.gate(x).sigmoid() if self.gate is not None else None
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, d)
        q, k = self.q_norm(q), self.k_norm(k)
        scores = (q * self.scale) @ k.transpose(-2, -1)  # (B, H, T, T)
        attn = self.normalizer(scores)  # (B, H, T, T)
        if self.store_attention:
            self.last_attention = attn.detach()
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2).reshape(b, n, self.attn_dim)  # (B, T, H*d)
        x = self.norm(x)
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))


def _init_parameters(cls) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters)


def attention_layer(name: str, kwargs: dict | None = None) -> type[NormalizedAttention]:
    """A :class:`NormalizedAttention` subclass bound to normaliser ``name`` and its kwargs."""
    get_normalizer_class(name)  # unknown names fail here, with the list of known ones
    return type(
        f"NormalizedAttention_{name}",
        (NormalizedAttention,),
        {"normalizer_name": name, "normalizer_kwargs": dict(kwargs or {})},
    )
