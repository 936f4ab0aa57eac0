"""Read run folders (``config.yaml``, ``metrics.csv``, ``summary.json`` and the
``evaluate__*.json`` files that ``qdsformer evaluate --out <run folder>`` leaves) into records."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml


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
    def group(self) -> str:
        """The cell a seed belongs to: ``<sweep>/<cell>`` for sweep folders (``.../seed<k>``),
        else the run folder's own ``<experiment>/<run>``."""
        parts = self.run_dir.parts
        if parts[-1].startswith("seed") and len(parts) >= 3:
            return "/".join(parts[-3:-1])
        return "/".join(parts[-2:])

    def get(self, dotted: str):
        """A config value by dotted key (``attention.kwargs.n_layers``); None when absent."""
        node = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def read_history(path: Path) -> list[dict]:
    """The rows of a metrics.csv as floats; [] when the file is absent."""
    if not path.exists():
        return []
    with path.open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


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
        label = evaluation_label({**data, "backend": backend})
        out[label] = {"exact_accuracy": exact, "accuracy": res["accuracy"],
                      "lost": exact - res["accuracy"], "agreement": res["agreement"],
                      "attention_frobenius": sum(frob) / len(frob)}
    return out


def read_run(run_dir: str | Path) -> RunRecord:
    """The record of one run folder; raises ValueError naming a damaged file."""
    run_dir = Path(run_dir)
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        history = read_history(run_dir / "metrics.csv")
        summary_path = run_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
        evaluations: dict[str, dict] = {}
        for path in sorted(run_dir.glob("evaluate__*.json")):
            evaluations.update(read_evaluations(path))
    except (yaml.YAMLError, json.JSONDecodeError, ValueError, KeyError, TypeError,
            ZeroDivisionError) as err:
        raise ValueError(f"run folder {run_dir} holds a damaged file: {err!r}") from None
    return RunRecord(run_dir, config, history, summary, evaluations)


def collect_runs(roots: list[str | Path]) -> list[RunRecord]:
    """Every run folder (a folder with ``config.yaml``) under ``roots``, sorted by path."""
    found: list[Path] = []
    for root in roots:
        root = Path(root)
        if not root.exists():
            raise ValueError(f"no such results folder: {root}")
        if (root / "config.yaml").exists():
            found.append(root)
        found += [p.parent for p in root.rglob("config.yaml") if p.parent != root]
    return [read_run(d) for d in sorted(set(found))]
