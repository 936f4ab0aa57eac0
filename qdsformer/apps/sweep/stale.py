"""Stale cells: run folders whose saved config is not what the sweep file now expands to.

A cell that has run (finished, or partial with a checkpoint) saved its config as
``config.yaml``. When the sweep file has been edited since (8 -> 9 epochs, another circuit),
its results no longer belong to the file: :func:`stale_keys` names the keys that differ, the
sweep refuses to skip such a cell silently, and :func:`move_aside` keeps the old folder under
a new name (never overwriting) so that ``--rerun-stale`` can train the cell afresh.

Keys that legitimately differ are ignored: ``run.out_dir`` and ``run.progress`` (where the
folder is and whether a bar was drawn), ``run.run_name`` (the sweep names the folder), and
``model.num_classes`` left null in the file (the fit loop saves the dataset's class count). A
key missing from an older ``config.yaml`` counts as equal when the file's value is that
key's default (a config field added since). Older key names are read as their current ones
(:func:`qdsformer.train.legacy.upgrade_config`: ``trainable: false`` is ``strategy: static``).
"""

from __future__ import annotations

import time
from pathlib import Path

from qdsformer.apps.sweep.spec import Cell, cell_status
from qdsformer.common.yamlfile import read_yaml
from qdsformer.data.datasets import dataset_num_classes
from qdsformer.train.config import field_defaults, flatten, to_dict
from qdsformer.train.legacy import upgrade_config

IGNORED = frozenset({"run.out_dir", "run.progress", "run.run_name"})


def stale_keys(cell: Cell) -> list[str]:
    """The config keys where ``cell``'s saved ``config.yaml`` differs from ``cell.config``.

    Empty for a cell that has not run (new), and for one whose saved config matches. A
    ``config.yaml`` that cannot be read is reported as the key ``config.yaml``.
    """
    if cell_status(cell) == "new":
        return []
    try:
        saved = read_yaml(cell.run_dir / "config.yaml", "saved config")
        if not isinstance(saved, dict):
            return ["config.yaml"]
        saved = upgrade_config(saved)  # older key names (trainable) read as today's
    except ValueError:
        return ["config.yaml"]
    wanted, saved = flatten(to_dict(cell.config)), flatten(saved)
    defaults = field_defaults()
    differ = []
    for key in sorted(set(wanted) | set(saved)):
        if key in IGNORED:
            continue
        if key == "model.num_classes" and wanted.get(key) is None and saved.get(key) in (
                None, dataset_num_classes(cell.config.data.name)):
            continue  # null in the file: the fit loop saves the dataset's count (older: null)
        if key not in saved and key in defaults and wanted[key] == defaults[key]:
            continue
        if key not in saved or key not in wanted or saved[key] != wanted[key]:
            differ.append(key)
    return differ


def move_aside(run_dir: Path) -> Path:
    """Rename ``run_dir`` to ``<run_dir>.stale-<UTC time>`` (a free name); returns it."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = run_dir.with_name(f"{run_dir.name}.stale-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = run_dir.with_name(f"{run_dir.name}.stale-{stamp}-{n}")
    run_dir.rename(target)
    return target
