"""Resume only a run whose files belong together: config.yaml, checkpoint.pt, metrics.csv.

The fit loop writes, after every epoch, first ``checkpoint.pt`` (holding the config, the epoch
count and the whole metrics history) and then ``metrics.csv`` (that history as CSV), each
atomically. A kill can therefore leave ``metrics.csv`` one epoch behind the checkpoint (killed
between the two writes), never ahead of it. On resume, :func:`check_resume_consistency`
accepts exactly these states:

- config: the checkpoint's stored config (keys added since it was saved at their defaults)
  equals ``config.yaml``'s and the config being resumed (``run.progress``, a display option
  that ``--no-progress`` changes, ``run.log``, an output option, and ``run.compile``, which
  changes how the same step runs, are ignored);
- metrics: ``metrics.csv`` holds the first ``epoch`` or ``epoch - 1`` rows of the
  checkpoint's history (missing counts as 0 rows), with the same numbers.

The fit loop then rewrites ``metrics.csv`` from the checkpoint's history, so a lagging file is
complete again before the next epoch starts. Anything else (files of two different runs, a
hand-edited config, metrics of a later run) is a ValueError naming the files that disagree.

:func:`rng_state` and :func:`set_rng_state` save and restore every global random state with
the checkpoint, so a resumed run draws the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import numpy as np
import torch

from qdsformer.models import CHECKPOINT_NAME
from qdsformer.train.config import from_dict, read_config_file, to_dict

#: Config keys that may differ between the saved run and its resumption.
RESUMABLE_KEYS = frozenset({"run.progress", "run.log", "run.compile"})
_COMPARED_METRICS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "kwargs":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def config_differences(left: dict, right: dict) -> list[str]:
    """``key: left vs right`` for every dotted key where two config dicts differ."""
    a, b = _flatten(left), _flatten(right)
    return [f"{key}: {a.get(key, '<absent>')!r} vs {b.get(key, '<absent>')!r}"
            for key in sorted(set(a) | set(b))
            if key not in RESUMABLE_KEYS and a.get(key, "<absent>") != b.get(key, "<absent>")]


def _mismatch(run_dir: Path, first: str, second: str, differences: list[str]) -> ValueError:
    shown = "; ".join(differences[:4]) + ("; ..." if len(differences) > 4 else "")
    return ValueError(f"cannot resume {run_dir}: {first} and {second} belong to different runs "
                      f"({shown})")


def _same_number(text: str, value) -> bool:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return False
    return number == float(value) or (math.isnan(number) and math.isnan(float(value)))


def read_metric_rows(path: Path) -> list[dict]:
    """The rows of ``metrics.csv`` as dicts of strings; [] when the file does not exist."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_resume_consistency(run_dir: str | Path, config, state: dict) -> None:
    """Check that ``run_dir``'s config.yaml, checkpoint ``state`` and metrics.csv are one run.

    Args:
        run_dir: the run folder being resumed.
        config: the config the run is resumed with (a Config or DistillConfig).
        state: the loaded checkpoint (``config``, ``epoch``, ``history``).

    Raises:
        ValueError: naming the files that disagree and how (see the module docstring).
    """
    run_dir = Path(run_dir)
    yaml_path = run_dir / "config.yaml"
    if not yaml_path.is_file():
        raise ValueError(f"cannot resume {run_dir}: no config.yaml beside {CHECKPOINT_NAME}")
    # the saved file as written (older key names read silently: it is a record, not an input)
    saved = to_dict(from_dict(type(config), read_config_file(yaml_path)))
    stored = state.get("config")
    if not isinstance(stored, dict):
        raise ValueError(f"cannot resume {run_dir}: {CHECKPOINT_NAME} holds no config")
    try:  # keys added to the config since the run was saved take their defaults
        stored = to_dict(from_dict(type(config), stored))
    except ValueError as err:
        raise ValueError(f"cannot resume {run_dir}: {CHECKPOINT_NAME} holds a config this "
                         f"version cannot read ({err})") from None
    differences = config_differences(saved, stored)
    if differences:
        raise _mismatch(run_dir, "config.yaml", CHECKPOINT_NAME, differences)
    differences = config_differences(to_dict(config), stored)
    if differences:
        raise _mismatch(run_dir, "the config given to resume", CHECKPOINT_NAME, differences)

    epoch, history = state.get("epoch"), state.get("history")
    if not isinstance(history, list) or epoch != len(history):
        raise ValueError(f"cannot resume {run_dir}: {CHECKPOINT_NAME} is at epoch {epoch} but "
                         f"holds {len(history) if isinstance(history, list) else 'no'} history "
                         "rows")
    rows = read_metric_rows(run_dir / "metrics.csv")
    if len(rows) not in (epoch, epoch - 1):
        raise ValueError(
            f"cannot resume {run_dir}: metrics.csv has {len(rows)} epoch rows but "
            f"{CHECKPOINT_NAME} is at epoch {epoch} (a kill leaves at most one row missing, "
            "never more rows); they belong to different runs")
    for row, expected in zip(rows, history):
        bad = [key for key in _COMPARED_METRICS
               if not _same_number(row.get(key), expected.get(key, math.nan))]
        if bad:
            raise ValueError(
                f"cannot resume {run_dir}: metrics.csv and {CHECKPOINT_NAME} belong to different "
                f"runs (epoch {expected.get('epoch')}: {', '.join(bad)} differ)")


def rng_state() -> dict:
    """Every global random state (Python, NumPy, torch CPU and CUDA) as plain types.

    Stored in the checkpoint so a resumed run draws what an uninterrupted one would.
    """
    # plain types only (a safe torch.load refuses numpy arrays): numpy's key as a list of ints
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (str(kind), [int(k) for k in key], int(pos), int(has_gauss),
                       float(cached)),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the random states saved by :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
