"""The Eureka moment of a training run (Hoffmann et al., ICML 2024; QDSFormer Fig. 4a).

On the Eureka task (:mod:`qdsformer.data.eureka`) a transformer first learns only the second
step: it classifies one of the two Fashion-MNIST items without reading the digits that say
which one, and validation accuracy sits on a plateau near 50% (right whenever that item is
the target, about half the time, plus chance agreement). When it learns to read the digits,
accuracy jumps within a few epochs to about 90%: the *Eureka moment* (EM).

Definition used here: the EM epoch is the first epoch (1-based) at whose end validation
accuracy reaches ``threshold`` and stays there for ``sustain`` epochs; None when that never
happens. The default threshold, 0.7, lies midway between the ~0.5 plateau and the ~0.9 of runs
that solve the task, so it separates QDSFormer's reported runs (non-EM runs end near 51-55%,
EM runs near 89%). Hoffmann et al.'s exact numeric criterion could not be read from the
sources available to us, so this threshold is our documented choice; pass another to compare.
QDSFormer averages EM epochs with runs without an EM counted as the last epoch (100).
"""

from __future__ import annotations

from collections.abc import Sequence

EUREKA_THRESHOLD = 0.7


def eureka_epoch(val_acc_history: Sequence[float], threshold: float = EUREKA_THRESHOLD,
                 sustain: int = 1) -> int | None:
    """First epoch (1-based) whose validation accuracy reaches ``threshold`` for ``sustain`` epochs.

    Args:
        val_acc_history: validation accuracy (fraction in [0, 1]) after each epoch, in order.
        threshold: accuracy that marks leaving the plateau.
        sustain: consecutive epochs at or above ``threshold`` required (1: the first crossing).

    Returns:
        The epoch number, or None when the run never gets there (no Eureka moment).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be an accuracy in (0, 1], got {threshold}")
    if sustain < 1:
        raise ValueError(f"sustain must be >= 1 epoch, got {sustain}")
    values = [float(v) for v in val_acc_history]
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"val_acc_history must hold accuracies in [0, 1] (fractions), got {values}")
    for start in range(len(values) - sustain + 1):
        if all(v >= threshold for v in values[start:start + sustain]):
            return start + 1
    return None
