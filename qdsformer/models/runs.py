"""Trained runs: the one "run folder -> (config, model)" loader and "run folder + split -> images".

Training (the distillation teacher), hardware-in-the-loop evaluation, ``qdsformer analyze
--inputs checkpoint`` and the notebooks all rebuild a run through :func:`load_run` and read its
data through :func:`run_image_batch`; there is no second copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from timm.models.vision_transformer import VisionTransformer

from qdsformer.data import build_dataset
from qdsformer.data.datasets import dataset_options
from qdsformer.models.checkpoint import load_checkpoint
from qdsformer.models.vit import build_vit


class LoadedRun(NamedTuple):
    """A trained run rebuilt from its checkpoint (:func:`load_run`).

    Attributes:
        config: the run's resolved config as plain nested dicts (``model``, ``attention``,
            ``data``, ...), as saved in the checkpoint.
        model: the ViT with the checkpoint's weights, on ``map_location``, in train mode.
        checkpoint: the whole checkpoint dict (``epoch``, ``history``, ...).
    """

    config: dict
    model: VisionTransformer
    checkpoint: dict


def load_run(path: str | Path, *, map_location: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the ViT of a run folder (or checkpoint file) with its trained weights.

    The one "run folder -> (config, model)" loader: training, distillation (the teacher),
    hardware-in-the-loop evaluation and ``qdsformer analyze`` all use it.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
    """
    state = load_checkpoint(path, map_location=map_location)
    model = build_vit(state["config"])
    model.load_state_dict(state["model"])
    return LoadedRun(state["config"], model, state)


def run_image_batch(path: str | Path, split: str, n_images: int, *, root: str | None = None
                    ) -> tuple[LoadedRun, torch.Tensor, torch.Tensor]:
    """A trained run and the first ``n_images`` images of ``split`` of its dataset.

    Args:
        path: run folder or checkpoint file.
        split: ``train``, ``val`` or ``test``.
        n_images: how many images (fewer when the split is smaller); >= 1.
        root: dataset folder, overriding the one saved in the run's config.

    Returns:
        ``(run, images (N, C, H, W), labels (N,) or (N, K) multi-label)`` with ``run`` from
        :func:`load_run`.

    Raises:
        ValueError: no checkpoint at ``path``, or ``n_images`` not an integer >= 1.
    """
    if int(n_images) != n_images or n_images < 1:
        raise ValueError(f"the number of images must be an integer >= 1, got {n_images!r}")
    try:
        run = load_run(path)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    data = run.config["data"]
    dataset = build_dataset(data["name"], split, root=root or data.get("root"), download=False,
                            **dataset_options(data["name"], data.get("fold", 0),
                                              data.get("n_folds", 5),
                                              eureka_val=data.get("eureka_val", "holdout")))
    count = min(int(n_images), len(dataset))
    images = torch.stack([dataset[i][0] for i in range(count)])  # (N, C, H, W)
    labels = dataset.labels[:count].clone()  # (N,), or (N, K) for a multi-label set
    return run, images, labels
