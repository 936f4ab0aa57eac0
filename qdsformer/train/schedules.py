"""Learning-rate schedules as pure functions of the epoch.

``warmup_cosine_lr`` is timm's ``CosineLRScheduler`` as Hoffmann et al.'s Eureka code uses it
(timm 0.4.12 through DeiT's ``create_scheduler``, stepped once per epoch, ``warmup_prefix``
off): linear warm-up from ``warmup_lr`` to the base rate over ``warmup_epochs``, then
``min_lr + (lr - min_lr) (1 + cos(pi e / epochs)) / 2`` at epoch e (the cosine clock counts
from epoch 0, so it is already past ``warmup_epochs / epochs`` of its period after warm-up).
"""

from __future__ import annotations

import math


def warmup_cosine_lr(epoch: int, lr: float, epochs: int, warmup_epochs: int = 0,
                     warmup_lr: float = 0.0, min_lr: float = 0.0) -> float:
    """The learning rate of 0-based ``epoch``.

    Args:
        epoch: 0-based epoch index.
        lr: base (peak) learning rate.
        epochs: length of the cosine period (the run's epochs).
        warmup_epochs: epochs of linear warm-up; 0 for none.
        warmup_lr: learning rate of epoch 0 when warming up.
        min_lr: the cosine's floor.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not 0 <= warmup_epochs < epochs:
        raise ValueError(f"warmup_epochs must be in [0, epochs), got {warmup_epochs} of {epochs}")
    if min_lr < 0 or warmup_lr < 0:
        raise ValueError(f"min_lr and warmup_lr must be >= 0, got {min_lr} and {warmup_lr}")
    if epoch < warmup_epochs:
        return warmup_lr + epoch * (lr - warmup_lr) / warmup_epochs
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * epoch / epochs))
