"""ViT factory on timm with pluggable attention, presets, attention maps, checkpoints, runs."""

from qdsformer.models.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    trusted_checkpoints,
)
from qdsformer.models.runs import LoadedRun, load_run, run_image_batch
from qdsformer.models.vit import (
    PRESETS,
    VitPreset,
    attention_layers,
    attention_maps,
    build_vit,
    create_vit,
    list_presets,
)

__all__ = [
    "CHECKPOINT_NAME",
    "LoadedRun",
    "PRESETS",
    "VitPreset",
    "attention_layers",
    "attention_maps",
    "build_vit",
    "CheckpointError",
    "load_checkpoint",
    "trusted_checkpoints",
    "load_run",
    "run_image_batch",
    "save_checkpoint",
    "create_vit",
    "list_presets",
]
