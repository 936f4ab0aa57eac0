"""The per-task metric hook (qdsformer.train.tasks): which data set adds which numbers."""

import csv

from qdsformer.data.datasets import MULTILABEL_LABELS
from qdsformer.train import load_config
from qdsformer.train.tasks import EurekaMetrics, MultiLabelMetrics, TaskMetrics, task_metrics


def _config(name):
    return load_config(None, [f"data.name={name}"])


def test_each_data_set_gets_its_hook():
    assert type(task_metrics(_config("digits"), multilabel=False)) is TaskMetrics
    assert isinstance(task_metrics(_config("eureka"), multilabel=False), EurekaMetrics)
    chest = task_metrics(_config("chestmnist"), multilabel=True)
    assert isinstance(chest, MultiLabelMetrics)
    assert chest.labels == MULTILABEL_LABELS["chestmnist"]
    assert chest.fields == ("val_micro_f1",)


def test_plain_data_sets_add_nothing(tmp_path):
    task = task_metrics(_config("digits"), multilabel=False)
    assert task.fields == ()
    assert task.row({"micro_f1": 0.5}) == {}
    assert task.summary([{"val_acc": 0.9}], {"acc": 0.9}) == {}
    task.write(tmp_path, {}, {})
    assert list(tmp_path.iterdir()) == []


def test_eureka_epoch_from_the_val_acc_history():
    task = EurekaMetrics()
    history = [{"val_acc": a} for a in (0.5, 0.52, 0.71, 0.9)]
    assert task.summary(history, {}) == {"eureka_epoch": 3}
    assert task.summary(history[:2], {}) == {"eureka_epoch": None}
    assert task.fields == ()


def test_multilabel_columns_summary_and_per_label_file(tmp_path):
    task = MultiLabelMetrics(("a", "b"))
    assert task.row({"micro_f1": 0.25, "loss": 1.0}) == {"val_micro_f1": 0.25}
    history = [{"val_micro_f1": 0.4}, {"val_micro_f1": 0.6}, {"val_micro_f1": 0.5}]
    assert task.summary(history, {"micro_f1": 0.55}) == {
        "val_micro_f1": 0.5, "best_val_micro_f1": 0.6, "test_micro_f1": 0.55}
    task.write(tmp_path, {"per_label_f1": [0.1, 0.2]}, {"per_label_f1": [0.3, 0.4]})
    with open(tmp_path / "per_group_f1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], float(r["val_f1"]), float(r["test_f1"])) for r in rows] == [
        ("a", 0.1, 0.3), ("b", 0.2, 0.4)]
