"""Group runs into cells and compute mean, sample std, n over seeds (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qdsformer.apps.report.collect import RunRecord
from qdsformer.apps.report.mixing import check_same_config

#: summary.json fields aggregated over seeds (accuracies as fractions, time in seconds)
SUMMARY_FIELDS = ("val_acc", "best_val_acc", "test_acc", "train_seconds")


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof = 1; None for a single value)."""
    if not values:
        raise ValueError("mean_std needs at least one value")
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


@dataclass
class Group:
    """The finished seeds of one cell and their statistics."""

    name: str
    runs: list[RunRecord]
    unfinished: int

    @property
    def n(self) -> int:
        return len(self.runs)

    def values(self, field: str) -> list[float]:
        return [float(r.summary[field]) for r in self.runs if r.summary.get(field) is not None]

    def evaluation_values(self, label: str, quantity: str) -> list[float]:
        """``quantity`` of the evaluation ``label`` over the seeds that have it."""
        return [float(r.evaluations[label][quantity]) for r in self.runs
                if label in r.evaluations]

    def evaluation_labels(self) -> list[str]:
        """The evaluations any seed of this cell has, sorted."""
        return sorted({label for r in self.runs for label in r.evaluations})

    def stat(self, field: str) -> tuple[float, float | None] | None:
        values = self.values(field)
        return mean_std(values) if values else None

    def best_epoch(self) -> tuple[float, float | None]:
        """Mean (std) epoch of the best validation accuracy."""
        epochs = [max(r.history, key=lambda row: row["val_acc"])["epoch"] for r in self.runs]
        return mean_std(epochs)

    def final_epoch(self) -> int:
        return max(int(r.history[-1]["epoch"]) for r in self.runs)

    def curve(self, field: str = "val_acc") -> tuple[list[int], list[float], list[float]]:
        """Epochs, mean and std of ``field`` over seeds (epochs all seeds reached)."""
        length = min(len(r.history) for r in self.runs)
        epochs, means, stds = [], [], []
        for i in range(length):
            mean, std = mean_std([r.history[i][field] for r in self.runs])
            epochs.append(int(self.runs[0].history[i]["epoch"]))
            means.append(mean)
            stds.append(std or 0.0)
        return epochs, means, stds

    def config_value(self, dotted: str):
        return self.runs[0].get(dotted)


def aggregate(records: list[RunRecord]) -> list[Group]:
    """Group ``records`` by cell; groups without a finished run are kept (n = 0) for the count.

    Raises ValueError naming the differing keys when the finished runs of a cell differ in
    their config beyond the seed (:mod:`qdsformer.apps.report.mixing`).
    """
    by_cell: dict[Path, list[RunRecord]] = {}
    for record in records:
        by_cell.setdefault(record.cell_dir, []).append(record)
    short = [runs[0].group for runs in by_cell.values()]
    groups = []
    for cell_dir, runs in by_cell.items():
        # two cells of one short name (runs/kl-seed0 under two folders): the full path names them
        name = runs[0].group if short.count(runs[0].group) == 1 else str(cell_dir)
        done = [r for r in runs if r.finished and r.history]
        check_same_config(f"cell {name}", [(r.run_dir.name, r) for r in done])
        groups.append(Group(name, done, len(runs) - len(done)))
    return groups
