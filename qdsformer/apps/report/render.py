"""Markdown and CSV renderings of aggregated runs (pure: strings and row dicts)."""

from __future__ import annotations

from qdsformer.apps.report.aggregate import Group, mean_std
from qdsformer.apps.report.paper import place_groups, pooled_stat


def _pm(mean: float, std: float | None, digits: int = 1) -> str:
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def _pct(group: Group, field: str) -> str:
    """``field`` in %, mean ± std; ``(n=k)`` when only k of the cell's finished seeds have it
    (a run without that number, e.g. an empty test split); ``-`` when none has it."""
    stat = group.stat(field)
    if stat is None:
        return "-"
    count = len(group.values(field))
    return (_pm(100 * stat[0], None if stat[1] is None else 100 * stat[1], 2)
            + (f" (n={count})" if count < group.n else ""))


def cell_rows(groups: list[Group]) -> list[dict]:
    """One CSV row per cell: n, mean/std of each metric (fractions), epochs, time."""
    rows = []
    for g in groups:
        row = {"cell": g.name, "n": g.n, "unfinished": g.unfinished}
        for field in ("val_acc", "best_val_acc", "test_acc", "train_seconds"):
            stat = g.stat(field) if g.n else None
            row[f"{field}_mean"] = None if stat is None else stat[0]
            row[f"{field}_std"] = None if stat is None else stat[1]
        best, best_std = g.best_epoch() if g.n else (None, None)
        row.update(best_epoch_mean=best, best_epoch_std=best_std,
                   final_epoch=g.final_epoch() if g.n else None)
        rows.append(row)
    return rows


def cells_markdown(groups: list[Group]) -> str:
    """The long table: every cell, accuracies in %, mean ± sample std over its seeds."""
    lines = ["| cell | n | val acc (final) | best val acc | test acc | best epoch | epochs | "
             "minutes per run |", "|---|---|---|---|---|---|---|---|"]
    for g in groups:
        if not g.n:
            lines.append(f"| {g.name} | 0 ({g.unfinished} unfinished) | - | - | - | - | - | - |")
            continue
        best, best_std = g.best_epoch()
        minutes = g.stat("train_seconds")
        n = f"{g.n}" + (f" (+{g.unfinished} unfinished)" if g.unfinished else "")
        lines.append(f"| {g.name} | {n} | {_pct(g, 'val_acc')} | {_pct(g, 'best_val_acc')} | "
                     f"{_pct(g, 'test_acc')} | {_pm(best, best_std)} | {g.final_epoch()} | "
                     f"{minutes[0] / 60:.1f} |")
    return "\n".join(lines)


def pivot_markdown(groups: list[Group], row_keys, column_key: str, metric: str, *,
                   paper: dict | None = None) -> str:
    """``metric`` (%) in a rows x columns orientation; paper values beside ours when given.

    ``paper`` maps (row tuple, column) -> (mean, std) in percent.
    """
    placed = place_groups(groups, row_keys, column_key)
    rows = sorted({p[0] for p in placed}, key=str)
    columns = sorted({p[1] for p in placed}, key=lambda c: (not c.lstrip("-").isdigit(),
                                                            int(c) if c.lstrip("-").isdigit() else 0, c))
    header = " / ".join(k.rsplit(".", 1)[-1] for k in row_keys)
    lines = [f"| {header} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            stat = pooled_stat(placed.get((row, column), []), metric)
            if stat is None:
                cells.append("-")
                continue
            mean, std, n = stat
            text = f"{_pm(mean, std)} (n={n})"
            if paper and (row, column) in paper:
                p_mean, p_std = paper[(row, column)]
                gap = f", Δ {(mean - p_mean) / std:+.1f} σ" if std else ""
                text += f"<br>paper {_pm(p_mean, p_std)}{gap}"
            cells.append(text)
        lines.append(f"| {' / '.join(row)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct_row(row: dict, quantity: str) -> str:
    std = row[f"{quantity}_std"]
    return _pm(100 * row[f"{quantity}_mean"], None if std is None else 100 * std, 2)


def evaluations_markdown(groups: list[Group]) -> str:
    """Per cell and circuit backend (``qdsformer evaluate`` files in the run folders): accuracy
    with exact attention and with attention from the circuits on the same images, the
    accuracy lost, agreement with the exact predictions (%, mean ± std over seeds) and the
    mean ||P_hat - P||_F of the estimated attention."""
    lines = ["| cell | circuit backend | n | exact acc | backend acc | lost (points) | "
             "agreement | ‖P̂ − P‖_F |", "|---|---|---|---|---|---|---|---|"]
    for row in evaluation_rows(groups):
        quantities = ("exact_accuracy", "accuracy", "lost", "agreement")
        lines.append(f"| {row['cell']} | {row['backend']} | {row['n']} | "
                     + " | ".join(_pct_row(row, q) for q in quantities) + " | "
                     + _pm(row["attention_frobenius_mean"], row["attention_frobenius_std"], 3)
                     + " |")
    return "\n".join(lines)


def evaluation_rows(groups: list[Group]) -> list[dict]:
    """One CSV row per (cell, circuit backend): mean and std over seeds (fractions)."""
    rows = []
    for g in groups:
        for label in g.evaluation_labels():
            row = {"cell": g.name, "backend": label,
                   "n": len(g.evaluation_values(label, "accuracy"))}
            for quantity in ("exact_accuracy", "accuracy", "lost", "agreement",
                             "attention_frobenius"):
                mean, std = mean_std(g.evaluation_values(label, quantity))
                row[f"{quantity}_mean"], row[f"{quantity}_std"] = mean, std
            rows.append(row)
    return rows
