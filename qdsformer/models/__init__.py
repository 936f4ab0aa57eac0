"""ViT factory on timm with pluggable attention, presets, attention maps, checkpoint I/O."""

from qdsformer.models.checkpoint import (
    build_model_from_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from qdsformer.models.vit import (
    PRESETS,
    VitPreset,
    attention_layers,
    attention_maps,
    create_vit,
    list_presets,
)

__all__ = [
    "PRESETS",
    "VitPreset",
    "attention_layers",
    "attention_maps",
    "build_model_from_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "create_vit",
    "list_presets",
]
