"""Read run folders (``config.yaml``, ``metrics.csv``, ``summary.json`` and the
``evaluate__*.json`` files that ``qdsformer evaluate --out <run folder>`` leaves) into records."""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from qdsformer.train.legacy import upgrade_config

log = logging.getLogger(__name__)

@dataclass
class RunRecord:
    """One run folder: its resolved config, per-epoch metrics and (when finished) summary."""

    run_dir: Path
    config: dict
    history: list[dict] = field(default_factory=list)
    summary: dict | None = None
    evaluations: dict[str, dict] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return bool(self.summary and self.summary.get("finished"))

    @property
    def cell_dir(self) -> Path:
        """The folder of the cell this run belongs to: a sweep's ``<sweep>/<cell>`` for its
        ``seed<k>`` folders, else the run folder itself."""
        parts = self.run_dir.parts
        if parts[-1].startswith("seed") and len(parts) >= 3:
            return self.run_dir.parent
        return self.run_dir

    @property
    def group(self) -> str:
        """The cell's name: ``<sweep>/<cell>`` for sweep folders (``.../seed<k>``), else the run
        folder's own ``<experiment>/<run>``."""
        return "/".join(self.cell_dir.parts[-2:])

    def get(self, dotted: str):
        """A config value by dotted key (``attention.kwargs.n_layers``); None when absent."""
        node = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def read_history(path: Path) -> list[dict]:
    """The rows of a metrics.csv as floats; [] when the file is absent.

    Raises ValueError when a row is short or long, or a value is not a number, or a row's
    ``epoch`` or ``val_acc`` is not finite (other columns may be ``nan``: the mixed strategy
    writes it for epochs without a phase).
    """
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"epoch", "val_acc"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"no {', '.join(sorted(missing))} column")
        for line, row in enumerate(reader, 2):
            if None in row or None in row.values():
                raise ValueError(f"line {line} has {'more' if None in row else 'fewer'} "
                                 "values than the header")
            try:
                parsed = {k: float(v) for k, v in row.items()}
            except ValueError:
                raise ValueError(f"line {line} holds a value that is not a number") from None
            if not all(math.isfinite(parsed[k]) for k in ("epoch", "val_acc")):
                raise ValueError(f"line {line}: epoch or val_acc is not finite")
            rows.append(parsed)
    return rows


def _check_number(summary: dict, key: str, required: bool) -> None:
    """``summary[key]`` is a finite non-negative number (a fraction for ``*_acc``), or absent
    / null when not ``required``."""
    value = summary.get(key)
    if value is None:
        if required:
            raise ValueError(f"no {key}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is {value!r}, not a finite number")
    if key.endswith("_acc") and not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} is {value!r}, not a fraction in [0, 1]")
    if value < 0:
        raise ValueError(f"{key} is {value!r}, negative")


def read_summary(path: Path) -> dict | None:
    """A summary.json, checked; None when absent.

    A finished run's summary must hold finite ``val_acc``, ``best_val_acc`` (fractions) and
    ``train_seconds``; ``test_acc`` may be absent or null. A split that held no samples
    (``n_test``/``n_val`` 0) reports no accuracy: its ``*_acc`` is set to None here, so no
    number is ever reported from it. Raises ValueError on any other shape.
    """
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    if not isinstance(summary, dict):
        raise ValueError(f"not a mapping but {type(summary).__name__}")
    finished = summary.get("finished", False)
    if not isinstance(finished, bool):
        raise ValueError(f"finished is {finished!r}, not true or false")
    for split in ("test", "val"):
        count = summary.get(f"n_{split}")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 0):
            raise ValueError(f"n_{split} is {count!r}, not a count")
        if count == 0:
            summary[f"{split}_acc"] = None
            if split == "val":
                summary["best_val_acc"] = None
    val_empty = summary.get("n_val") == 0
    for key in ("val_acc", "best_val_acc"):
        _check_number(summary, key, required=finished and not val_empty)
    _check_number(summary, "train_seconds", required=finished)
    _check_number(summary, "test_acc", required=False)
    return summary


def evaluation_label(record: dict) -> str:
    """How an evaluation is named in a report: backend, images, shots, mitigation."""
    return (f"{record['backend']} ({record['n_images']} {record['split']} images, "
            f"{record['shots']} shots" + (", readout-mitigated" if record["readout_mitigation"]
                                          else "")
            + (", Birkhoff-mitigated" if record["mitigate"] else "") + ")")


def read_evaluations(path: Path) -> dict[str, dict]:
    """Accuracies of one ``qdsformer evaluate`` JSON file, one entry per circuit backend.

    Each entry: ``exact_accuracy`` and ``accuracy`` (fractions, on the same images),
    ``lost`` (exact - backend), ``agreement`` with the exact predictions, and
    ``attention_frobenius`` (the mean over layers of the mean ||P_hat - P||_F).
    """
    data = json.loads(path.read_text())
    exact = data["results"]["exact"]["accuracy"]
    out = {}
    for backend, res in data["results"].items():
        if backend == "exact":
            continue
        frob = res["attention_frobenius_mean"]
        numbers = [exact, res["accuracy"], res["agreement"], *frob]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in numbers):
            raise ValueError(f"results[{backend!r}] holds a value that is not a finite number")
        label = evaluation_label({**data, "backend": backend})
        out[label] = {"exact_accuracy": exact, "accuracy": res["accuracy"],
                      "lost": exact - res["accuracy"], "agreement": res["agreement"],
                      "attention_frobenius": sum(frob) / len(frob)}
    return out


class DamagedFile(ValueError):
    """A run folder's file that cannot be read as what it should be; names the file."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path


#: What reading a damaged file raises (wrong shape shows up as KeyError / TypeError / ...).
_READ_ERRORS = (OSError, yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError,
                ZeroDivisionError)


def _reason(err: BaseException) -> str:
    if isinstance(err, (KeyError, TypeError, AttributeError, ZeroDivisionError)):
        return f"wrong shape ({type(err).__name__}: {err})"
    return " ".join(str(err).split()) or type(err).__name__


def _read(path: Path, reader):
    try:
        return reader(path)
    except _READ_ERRORS as err:
        raise DamagedFile(path, _reason(err)) from None


def _read_config(path: Path) -> dict:
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"not a mapping but {type(config).__name__}")
    return upgrade_config(config)  # older key names (trainable) read as today's


def read_run(run_dir: str | Path) -> RunRecord:
    """The record of one run folder.

    Raises :class:`DamagedFile` naming the file when ``config.yaml``, ``metrics.csv`` or
    ``summary.json`` is damaged or of the wrong shape. A damaged ``evaluate__*.json`` costs only
    its own evaluations: it is skipped with a one-line warning naming it.
    """
    run_dir = Path(run_dir)
    config = _read(run_dir / "config.yaml", _read_config)
    history = _read(run_dir / "metrics.csv", read_history)
    summary = _read(run_dir / "summary.json", read_summary)
    evaluations: dict[str, dict] = {}
    for path in sorted(run_dir.glob("evaluate__*.json")):
        try:
            evaluations.update(_read(path, read_evaluations))
        except DamagedFile as err:
            log.warning("skipped an evaluation file: %s", err)
    return RunRecord(run_dir, config, history, summary, evaluations)


#: Folders ``qdsformer sweep --rerun-stale`` moved aside (``<run_dir>.stale-<UTC time>``).
STALE_FOLDER = re.compile(r".+\.stale-\d{8}-\d{6}(-\d+)?")


def collect_runs(roots: list[str | Path]) -> list[RunRecord]:
    """Every run folder (a folder with ``config.yaml``) under ``roots``, sorted by path.

    A run folder with a damaged file is skipped with a one-line warning naming the file.
    Folders that ``qdsformer sweep --rerun-stale`` moved aside (``seed0.stale-<time>``, results
    of an older version of the sweep file) are not results of the sweep and are left out.
    """
    found: list[Path] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"no such results folder: {root}")
        if (root / "config.yaml").exists():
            found.append(root)
        found += [p.parent for p in root.rglob("config.yaml") if p.parent != root
                  and not any(STALE_FOLDER.fullmatch(part)
                              for part in p.parent.relative_to(root).parts)]
    records = []
    for run_dir in sorted(set(found)):
        try:
            records.append(read_run(run_dir))
        except DamagedFile as err:
            log.warning("skipped run folder %s: %s", run_dir, err)
    return records
