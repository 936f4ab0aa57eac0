"""The paper's result tables (``paper_tables/*.yaml``) and ours beside them.

A table file names the summary field its numbers correspond to (``metric``), the dotted config
keys that identify a row (``row_keys``) and a column (``column_key``), and one entry per
(row, column) with the paper's mean and std in percent (std null where the paper gives none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from qdsformer.apps.report.aggregate import Group, mean_std
from qdsformer.apps.report.mixing import check_same_config

TABLES_DIR = Path(__file__).resolve().parents[1] / "paper_tables"


@dataclass(frozen=True)
class PaperTable:
    """One of the paper's tables: what it measures, how its rows/columns map to our configs."""

    name: str
    title: str
    metric: str
    row_keys: tuple[str, ...]
    column_key: str
    entries: tuple[dict, ...]


def available_tables() -> list[str]:
    """Names of the bundled paper tables."""
    return sorted(p.stem for p in TABLES_DIR.glob("*.yaml"))


def load_paper_table(name_or_path: str) -> PaperTable:
    """A bundled table by name (``table1``) or a table file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = TABLES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown paper table {name_or_path!r}; bundled: "
                         f"{', '.join(available_tables())} (or give a table file's path)")
    data = yaml.safe_load(path.read_text())
    missing = {"name", "title", "metric", "row_keys", "column_key", "entries"} - set(data or {})
    if missing:
        raise ValueError(f"paper table {path} lacks {', '.join(sorted(missing))}")
    return PaperTable(data["name"], data["title"], data["metric"], tuple(data["row_keys"]),
                      data["column_key"], tuple(data["entries"]))


def _key(values) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def group_position(group: Group, row_keys, column_key) -> tuple[tuple[str, ...], str]:
    """Where a group sits in a table oriented by ``row_keys`` x ``column_key``."""
    return (_key(group.config_value(k) for k in row_keys), str(group.config_value(column_key)))


def place_groups(groups: list[Group], row_keys, column_key: str) -> dict[tuple, list[Group]]:
    """Groups with finished runs and a value for ``column_key``, by (row, column) position.

    The runs of the groups that share a position are pooled, so they must be one config
    (seed keys aside); raises ValueError naming the cells and keys otherwise.
    """
    placed: dict[tuple, list[Group]] = {}
    for group in groups:
        if group.n and group.config_value(column_key) is not None:
            placed.setdefault(group_position(group, row_keys, column_key), []).append(group)
    for (row, column), members in placed.items():
        if len(members) > 1:
            check_same_config(f"table position {' / '.join(row)}, {column}",
                              [(g.name, r) for g in members for r in g.runs])
    return placed


def pooled_stat(groups: list[Group], metric: str) -> tuple[float, float | None, int] | None:
    """Mean, std (percent) and n of ``metric`` over all finished runs of ``groups``."""
    values = [100.0 * v for g in groups for v in g.values(metric)]
    if not values:
        return None
    mean, std = mean_std(values)
    return mean, std, len(values)


def compare_to_paper(groups: list[Group], table: PaperTable, *, metric: str | None = None
                     ) -> list[dict]:
    """One row per paper entry that our runs cover: ours, the paper's, and the gap.

    ``gap_in_our_std`` is (ours - paper) / our std: how many of our seed-to-seed standard
    deviations separate the two means (None when we have fewer than two seeds).
    """
    metric = metric or table.metric
    placed = place_groups(groups, table.row_keys, table.column_key)
    rows = []
    for entry in table.entries:
        position = (_key(entry["row"]), str(entry["column"]))
        ours = pooled_stat(placed.get(position, []), metric)
        if ours is None:
            continue
        mean, std, n = ours
        gap = mean - entry["mean"]
        rows.append({
            "row": " / ".join(position[0]), "column": position[1], "metric": metric,
            "ours_mean": mean, "ours_std": std, "n": n,
            "paper_mean": entry["mean"], "paper_std": entry.get("std"),
            "difference": gap, "gap_in_our_std": gap / std if std else None,
        })
    return rows
