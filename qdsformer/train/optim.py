"""The fit loop's optimiser and per-epoch learning-rate schedule, built from ``config.optim``.

:func:`build_optimizer` and :func:`build_scheduler` are also used by the run-time estimate
(:mod:`qdsformer.train.runtime`), which times the same optimiser step as the loop.
"""

from __future__ import annotations

import functools

import torch

from qdsformer.train.config import Config
from qdsformer.train.schedules import warmup_cosine_lr


def build_optimizer(config: Config, params) -> torch.optim.Optimizer:
    """The optimiser ``optim.name`` (adam, adamw, sgd with momentum 0.9) over ``params``.

    Raises:
        ValueError: ``optim.lr`` <= 0 or an unknown ``optim.name``.
    """
    o = config.optim
    if o.lr <= 0:
        raise ValueError(f"optim.lr must be > 0, got {o.lr}")
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=0.9, weight_decay=o.weight_decay)
    raise ValueError(f"unknown optim.name {o.name!r}; expected adam, adamw or sgd")


def build_scheduler(config: Config, optimizer):
    """Per-epoch schedule: ``multistep`` (milestones, gamma), ``cosine`` or ``none``."""
    o = config.optim
    if o.warmup_epochs and o.schedule != "cosine":
        raise ValueError(f"optim.warmup_epochs needs schedule cosine, got {o.schedule!r}")
    if o.schedule == "cosine" and (o.warmup_epochs or o.min_lr):
        lr_at = functools.partial(warmup_cosine_lr, lr=o.lr, epochs=max(o.epochs, 1),
                                  warmup_epochs=o.warmup_epochs, warmup_lr=o.warmup_lr,
                                  min_lr=o.min_lr)
        lr_at(0)  # validates the options now rather than at the first step
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_at(epoch) / o.lr)
    if o.schedule == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, o.milestones, gamma=o.gamma)
    if o.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(o.epochs, 1))
    if o.schedule == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    raise ValueError(f"unknown optim.schedule {o.schedule!r}; expected multistep, cosine or none")
