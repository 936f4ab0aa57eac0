"""The timm attention layer whose softmax line calls a registered normaliser."""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from timm.layers import Attention

from qdsformer.attention import create_normalizer, get_normalizer_class
from qdsformer.attention.softmax import Softmax


class NormalizedAttention(Attention):
    """``timm.layers.Attention`` with ``softmax`` replaced by any registered normaliser.

    attn = normaliser(q k^T / sqrt(d)), or normaliser(q / sqrt(d), k / sqrt(d)) for a
    normaliser with ``consumes == "qk"`` (whose ``attend`` gives attn v without forming attn
    when it ``prefers_attend(T)`` and no map or dropout is needed); out = proj(attn v).
    Set ``store_attention = True`` to keep the last attention map (B, H, T, T) on its device
    in ``last_attention``; nothing is copied to the CPU. Subclasses made by
    :func:`attention_layer` fix the normaliser's name and keyword arguments, because timm
    builds the layer from a class.

    No host-device sync per forward: the normaliser's finiteness check (a sync on CUDA) is
    off in the model unless its kwargs say ``check_finite=True`` (a debug flag); NaN still
    ends training through the fit loop's loss check. Plain ``softmax`` runs on PyTorch's
    fused ``scaled_dot_product_attention`` (timm's ``fused_attn`` path) unless the attention
    map is stored, so the baseline is not slowed by our interface.
    """

    normalizer_name: str = "softmax"
    normalizer_kwargs: dict = {}

    def __init__(self, dim: int, num_heads: int = 8, **kwargs) -> None:
        super().__init__(dim, num_heads=num_heads, **kwargs)
        options = dict(self.normalizer_kwargs)
        accepted = _init_parameters(get_normalizer_class(self.normalizer_name))
        if "check_finite" in accepted:
            options.setdefault("check_finite", False)
        if "head_dim" in accepted:
            options.setdefault("head_dim", self.head_dim)
        if "num_heads" in accepted:  # normalisers holding per-head parameters (lot's pivot)
            options.setdefault("num_heads", self.num_heads)
        self.normalizer = create_normalizer(self.normalizer_name, **options)
        # the fused kernel computes exactly softmax(q k^T * scale) v; anything else is ours
        self.fused_attn = (type(self.normalizer) is Softmax and not options.get("check_finite")
                           and hasattr(F, "scaled_dot_product_attention"))
        self.store_attention = False
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, attn_mask=None, is_causal: bool = False) -> torch.Tensor:
        if attn_mask is not None or is_causal:
            raise ValueError("NormalizedAttention does not support attention masks or causal mode")
        b, n, _ = x.shape
        gate_layer = getattr(self, "gate", None)  # timm >= 1.0.28; older releases: no gate
        gate = gate_layer(x).sigmoid() if gate_layer is not None else None
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, d)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.fused_attn and not self.store_attention:
            x = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0, scale=self.scale,
            )  # (B, H, T, d)
        elif getattr(self.normalizer, "consumes", "scores") == "qk":
            x = self._attend_qk(q * self.scale, k * self.scale, v)  # (B, H, T, d)
        else:
            scores = (q * self.scale) @ k.transpose(-2, -1)  # (B, H, T, T)
            x = self._attend(self.normalizer(scores), v)  # (B, H, T, d)
        x = x.transpose(1, 2).reshape(b, n, self.attn_dim)  # (B, T, H*d)
        x = self.norm(x)
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))

    def _attend(self, attn: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Keep the map if asked, apply attention dropout, return attn @ v (B, H, T, d)."""
        if self.store_attention:
            self.last_attention = attn.detach()
        return self.attn_drop(attn) @ v

    def _attend_qk(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """A (q, k) normaliser: its P @ v path when it prefers one and nothing needs P."""
        dropout = self.training and getattr(self.attn_drop, "p", 0.0) > 0
        if (not self.store_attention and not dropout
                and self.normalizer.prefers_attend(q.shape[-2])):
            return self.normalizer.attend(q, k, v)  # (B, H, T, d), P never formed
        return self._attend(self.normalizer(q, k), v)


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
