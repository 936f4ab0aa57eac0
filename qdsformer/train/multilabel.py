"""The multi-label task of the fit loop (IR spectra): BCE-with-logits and micro-F1.

The fit loop picks this path when the data set's labels are (N, K) indicators
(``ArrayDataset.multilabel``), not by the data set's name. A label is predicted present when
its sigmoid is >= 0.5, i.e. its logit is >= 0. Scores are summed per label as true positives,
false positives and false negatives (so data-parallel ranks reduce three K-vectors), and

- micro-F1 = 2 sum TP / (2 sum TP + sum FP + sum FN) (``sklearn.metrics.f1_score(...,
  average="micro")``),
- per-label F1 = 2 TP / (2 TP + FP + FN), 0 where a label is neither present nor predicted
  (sklearn's ``zero_division=0``),
- ``acc``: the share of correct 0/1 decisions over all labels (the ``val_acc`` column).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from qdsformer.common.results import write_csv
from qdsformer.train.ddp import DistributedContext


def bce_loss(model, images, labels):
    """``(model, images, labels) -> (loss, logits)`` with BCE-with-logits over the K labels."""
    logits = model(images)  # (B, K)
    return F.binary_cross_entropy_with_logits(logits, labels), logits


def correct_decisions(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-example share of correct 0/1 decisions, summed over the batch (a 0-d tensor)."""
    return ((logits >= 0) == (labels >= 0.5)).float().mean(-1).sum()  # logits, labels (B, K)


def f1_from_counts(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor
                   ) -> tuple[float, list[float]]:
    """(micro-F1, per-label F1) from per-label counts (K,) each."""
    def ratio(num, den):
        return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num))

    micro = ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum())
    return float(micro), ratio(2 * tp, 2 * tp + fp + fn).tolist()


@torch.no_grad()
def evaluate_multilabel(model: torch.nn.Module, loader, *, device,
                        ctx: DistributedContext) -> dict:
    """Mean BCE, label accuracy, micro-F1 and per-label F1 of ``model`` over ``loader``."""
    was_training = model.training
    model.eval()
    n_labels = loader.dataset.labels.shape[1]
    totals = torch.zeros(3, device=device)  # loss sum, correct decisions, count
    counts = torch.zeros(3, n_labels, device=device)  # TP, FP, FN per label
    for images, labels in loader:
        images, labels = ctx.shard(images.to(device), labels.to(device))
        logits = model(images)  # (B, K)
        predicted, present = logits >= 0, labels >= 0.5  # (B, K)
        totals[0] += F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / n_labels
        totals[1] += correct_decisions(logits, labels)
        totals[2] += labels.shape[0]
        counts[0] += (predicted & present).sum(0)
        counts[1] += (predicted & ~present).sum(0)
        counts[2] += (~predicted & present).sum(0)
    ctx.sum(totals)
    ctx.sum(counts)
    model.train(was_training)
    loss, correct, count = totals.tolist()
    micro, per_label = f1_from_counts(*counts)
    return {"loss": loss / max(count, 1), "acc": correct / max(count, 1), "micro_f1": micro,
            "per_label_f1": per_label}


def write_per_label_f1(path: str | Path, names, val: dict, test: dict) -> None:
    """``per_group_f1.csv``: one row per label with its validation and test F1."""
    rows = [{"label": name, "val_f1": v, "test_f1": t}
            for name, v, t in zip(names, val["per_label_f1"], test["per_label_f1"], strict=True)]
    write_csv(rows, path, fieldnames=["label", "val_f1", "test_f1"])
