"""Per-task metrics: what a data set adds to the fit loop's metrics.csv, summary and folder.

The fit loop asks :func:`task_metrics` once per run and then calls the hook it gets, so the
loop itself never tests a data set's name:

- multi-label data sets (labels (N, K), :mod:`qdsformer.train.multilabel`): a
  ``val_micro_f1`` column per epoch; ``val_micro_f1``, ``best_val_micro_f1`` and
  ``test_micro_f1`` in summary.json; ``per_group_f1.csv`` (each label's validation and test F1);
- ``eureka`` (QDSFormer Fig. 4a): ``eureka_epoch`` in summary.json, the epoch of the Eureka
  moment from the validation-accuracy history (:func:`qdsformer.analysis.eureka.eureka_epoch`),
  or None;
- every other data set: nothing.

A new task's metrics are a :class:`TaskMetrics` subclass registered in :data:`TASK_METRICS`
under its data set's name.
"""

from __future__ import annotations

from pathlib import Path

from qdsformer.analysis.eureka import eureka_epoch
from qdsformer.common import Registry
from qdsformer.data.datasets import MULTILABEL_LABELS
from qdsformer.train.config import Config
from qdsformer.train.multilabel import write_per_label_f1


class TaskMetrics:
    """The hook's interface, and the data sets that add nothing.

    Attributes:
        fields: metrics.csv columns this task adds (after the loop's own and the mixed phase's).
    """

    fields: tuple[str, ...] = ()

    def row(self, val_stats: dict) -> dict:
        """The task's columns of one epoch's row from that epoch's validation numbers."""
        return {}

    def summary(self, history: list[dict], test_stats: dict) -> dict:
        """The task's summary.json fields from the epoch rows and the test numbers."""
        return {}

    def write(self, run_dir: Path, val_stats: dict, test_stats: dict) -> None:
        """The task's files in the run folder (rank 0 only), after the last epoch."""


class MultiLabelMetrics(TaskMetrics):
    """Micro-F1 per epoch and in the summary, per-label F1 in ``per_group_f1.csv``.

    Args:
        labels: the label names, in label-column order.
    """

    fields = ("val_micro_f1",)

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels

    def row(self, val_stats: dict) -> dict:
        return {"val_micro_f1": val_stats["micro_f1"]}

    def summary(self, history: list[dict], test_stats: dict) -> dict:
        return {"val_micro_f1": history[-1]["val_micro_f1"],
                "best_val_micro_f1": max(r["val_micro_f1"] for r in history),
                "test_micro_f1": test_stats["micro_f1"]}

    def write(self, run_dir: Path, val_stats: dict, test_stats: dict) -> None:
        write_per_label_f1(run_dir / "per_group_f1.csv", self.labels, val_stats, test_stats)


class EurekaMetrics(TaskMetrics):
    """``eureka_epoch``: the epoch of the Eureka moment (QDSFormer Fig. 4a), or None."""

    def summary(self, history: list[dict], test_stats: dict) -> dict:
        return {"eureka_epoch": eureka_epoch([r["val_acc"] for r in history])}


#: Single-label data sets with metrics of their own, by data set name.
TASK_METRICS: Registry[TaskMetrics] = Registry("task metrics", {"eureka": EurekaMetrics()})


def task_metrics(config: Config, multilabel: bool) -> TaskMetrics:
    """The metric hook of ``config.data.name``.

    Args:
        config: the run's config.
        multilabel: whether the data set's labels are (N, K) indicators
            (``ArrayDataset.multilabel``), which chooses the multi-label metrics.
    """
    name = config.data.name
    if multilabel:
        return MultiLabelMetrics(MULTILABEL_LABELS[name])
    return TASK_METRICS.get(name) if name in TASK_METRICS else TaskMetrics()
