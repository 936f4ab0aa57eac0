"""ViT factory on ``timm.models.vision_transformer.VisionTransformer`` with pluggable attention.

The QDSFormer paper's ViT (Born et al., 2025): 28x28 grey images cut into 7 horizontal stripes of
4x28 pixels plus a class token (T = 8), hidden size 128, MLP ratio 1, one head, 1-4 blocks, no
dropout, class-token pooling. Class-token pooling is required: with doubly stochastic attention
mean pooling over tokens cancels the attention (columns sum to 1).

The exception is ``eureka_vit``, the ViT of the Eureka task (QDSFormer Fig. 4a, after Hoffmann
et al., ICML 2024, boschresearch/eurekaMoments): 56x56 RGB images cut into 14x28 patches, 8
tokens, **no class token and mean pooling**, hidden 256, MLP ratio 2. The QDSFormer paper states
mean pooling for this experiment, and 8 patch tokens (T = 8, a power of two: 3 data qubits) are
only possible without a class token, so we follow the paper. What mean pooling cancels is the
last block's attention term in the pooled vector: mean_i sum_j P_ij v_j = mean_j v_j when the
columns of P sum to 1. The attention still reaches the output through the last block's MLP
(applied per token before pooling) and through every earlier block, so doubly stochastic
attention is weakened in the last block, not removed from the model. (Hoffmann et al.'s own
``vit.py`` pools the class token; the QDSFormer setup differs there.) Depth 7 and 4 heads are
the eurekaMoments repository's defaults (``--mnist_deit_depth 7``, ``--num_heads 4`` with
``--embedding_dim_per_head 64``, which gives the hidden size 256); neither paper states them.

1-D presets (``input_width`` set) take signals as 1 x L images and cut them into (1, P)
stripes (:mod:`qdsformer.models.signal`): ``qdsformer_ir_t8`` / ``qdsformer_ir_t16`` for the IR
spectra of Table A2 (1,800 points; one layer, T = 8 or 16 with the class token), and
``qdsformer_mnist1d`` (40 points, zero-padded to 7 stripes of 6, T = 8). The paper states only T
and the depth for the IR ViT; width, heads and MLP ratio are the Fashion-MNIST preset's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial

import torch
from timm.models.vision_transformer import VisionTransformer

from qdsformer.common.registry import Registry
from qdsformer.models.attention_layer import NormalizedAttention, attention_layer
from qdsformer.models.signal import SignalPatchEmbed


@dataclass(frozen=True)
class VitPreset:
    """Architecture of a small ViT: image, patch (stripe) size and width."""

    img_size: tuple[int, int]
    patch_size: tuple[int, int]
    in_chans: int
    num_classes: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    pool: str = "token"  # "token": class token + its pooling; "avg": no class token, mean pooling
    # 1-D signals: the input width L of a (C, 1, L) signal, cropped or zero-padded at its end
    # to img_size's width (the patch grid); None: the input is img_size itself
    input_width: int | None = None

    @property
    def n_tokens(self) -> int:
        """T: patches plus the class token (when ``pool`` is ``token``)."""
        rows = self.img_size[0] // self.patch_size[0]
        cols = self.img_size[1] // self.patch_size[1]
        return rows * cols + (1 if self.pool == "token" else 0)


_BUILT_IN_PRESETS: dict[str, VitPreset] = {
    # The paper's ViT for MNIST / Fashion-MNIST / MedMNIST: T = 7 stripes + class token = 8.
    "qdsformer_fmnist": VitPreset((28, 28), (4, 28), 1, 10, 128, 2, 1, 1.0),
    # The same ViT for the RGB MedMNIST sets (pathmnist, dermamnist, bloodmnist, retinamnist).
    "qdsformer_medmnist_rgb": VitPreset((28, 28), (4, 28), 3, 10, 128, 2, 1, 1.0),
    # The embedded default data (sklearn digits, 8x8): 4 stripes of 2x8 + class token = T 5.
    "qdsformer_digits": VitPreset((8, 8), (2, 8), 1, 10, 64, 2, 1, 2.0),
    # The Eureka task's ViT (QDSFormer Fig. 4a; see the module docstring): 56x56 RGB, 14x28
    # patches = 8 tokens, no class token, mean pooling, hidden 256, MLP ratio 2, depth 7, 4 heads.
    "eureka_vit": VitPreset((56, 56), (14, 28), 3, 10, 256, 7, 4, 2.0, pool="avg"),
    # IR spectra (Table A2), 37 labels, one layer: 1,800 points trimmed to 7 x 256 (T = 8) ...
    "qdsformer_ir_t8": VitPreset((1, 1792), (1, 256), 1, 37, 128, 1, 1, 1.0, input_width=1800),
    # ... or 15 x 120 = 1,800 (T = 16)
    "qdsformer_ir_t16": VitPreset((1, 1800), (1, 120), 1, 37, 128, 1, 1, 1.0, input_width=1800),
    # MNIST-1D: 40 points zero-padded to 7 stripes of 6 + class token = T 8
    "qdsformer_mnist1d": VitPreset((1, 42), (1, 6), 1, 10, 128, 2, 1, 1.0, input_width=40),
}

#: ViT presets by name; more with ``PRESETS.add(name, VitPreset(...))``.
PRESETS: Registry[VitPreset] = Registry("model preset", _BUILT_IN_PRESETS)


def list_presets() -> list[str]:
    """Names of the model presets."""
    return PRESETS.names()


def create_vit(
    preset: str = "qdsformer_fmnist",
    attention: str = "softmax",
    attention_kwargs: dict | None = None,
    **overrides,
) -> VisionTransformer:
    """Build a timm VisionTransformer whose attention blocks use a registered normaliser.

    Args:
        preset: a name from :data:`PRESETS`.
        attention: registered normaliser name (``qdsformer list`` shows them).
        attention_kwargs: keyword arguments of the normaliser (e.g. ``{"n_iters": 3}``).
        **overrides: any :class:`VitPreset` field (``depth=4``, ``embed_dim=64``, ...).

    Returns:
        The model, no dropout; ``global_pool="token"`` with a class token, or for presets with
        ``pool="avg"`` (``eureka_vit``) no class token and ``global_pool="avg"``.
    """
    fields = asdict(PRESETS.get(preset))
    unknown = set(overrides) - set(fields)
    if unknown:
        raise ValueError(f"unknown model option(s) {sorted(unknown)}; known: {sorted(fields)}")
    fields.update({k: v for k, v in overrides.items() if v is not None})
    spec = VitPreset(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    if spec.pool not in ("token", "avg"):
        raise ValueError(f"pool must be 'token' or 'avg', got {spec.pool!r}")
    if spec.depth < 1:
        raise ValueError(f"depth must be >= 1, got {spec.depth}")
    for axis in (0, 1):
        if spec.img_size[axis] % spec.patch_size[axis]:
            raise ValueError(
                f"patch_size {spec.patch_size} does not tile img_size {spec.img_size}"
            )
    if spec.input_width is not None and not (isinstance(spec.input_width, int)
                                             and spec.input_width >= 1 and spec.img_size[0] == 1):
        raise ValueError(f"input_width must be an integer >= 1 with img_size (1, L), got "
                         f"{spec.input_width!r} with img_size {spec.img_size}")
    embed = {} if spec.input_width is None else {
        "embed_layer": partial(SignalPatchEmbed, signal_width=spec.input_width)}
    return VisionTransformer(
        img_size=spec.img_size,
        patch_size=spec.patch_size,
        in_chans=spec.in_chans,
        num_classes=spec.num_classes,
        global_pool=spec.pool,
        embed_dim=spec.embed_dim,
        depth=spec.depth,
        num_heads=spec.num_heads,
        mlp_ratio=spec.mlp_ratio,
        class_token=spec.pool == "token",
        attn_layer=attention_layer(attention, attention_kwargs),
        **embed,
    )


def build_vit(config: Mapping) -> VisionTransformer:
    """The ViT of a run config given as plain nested dicts (``model`` and ``attention``).

    ``config["model"]`` holds ``preset`` and optional :class:`VitPreset` overrides (None keeps
    the preset's value); ``config["attention"]`` holds ``name`` and ``kwargs``. This is the
    one config -> model path: the training loop and :func:`qdsformer.models.load_run` use it.
    """
    model = dict(config["model"])
    attention = config["attention"]
    return create_vit(model.pop("preset"), attention=attention["name"],
                      attention_kwargs=attention["kwargs"], **model)


def attention_layers(model: torch.nn.Module) -> list[NormalizedAttention]:
    """The model's normalised attention layers, in block order."""
    return [m for m in model.modules() if isinstance(m, NormalizedAttention)]


@torch.no_grad()
def attention_maps(model: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Run ``model`` on ``images`` and return each block's attention map (B, H, T, T)."""
    layers = attention_layers(model)
    if not layers:
        raise ValueError("model has no NormalizedAttention layers; build it with create_vit()")
    for layer in layers:
        layer.store_attention = True
    try:
        model(images)
        return [layer.last_attention for layer in layers]
    finally:
        for layer in layers:
            layer.store_attention = False
            layer.last_attention = None
