"""Each operator against a baseline operator in the same row: the gap and its significance.

For a row of the table (e.g. Fashion-MNIST, 2-block ViT) and a column (an operator), the gap
to the baseline column (softmax) is reported as the difference of means (percentage points),
that difference in units of the pooled standard deviation sqrt((s_a^2 + s_b^2) / 2), and
Welch's t-test (unequal variances, two-sided). With three seeds a test has little power: a
p-value above 0.05 says the seeds cannot tell the two apart, not that they are equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import stats

from qdsformer.apps.report.aggregate import Group, mean_std
from qdsformer.apps.report.paper import place_groups


def welch(a: list[float], b: list[float]) -> tuple[float, float] | None:
    """Welch's t statistic and two-sided p-value of mean(a) - mean(b); None if n < 2."""
    if len(a) < 2 or len(b) < 2:
        return None
    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def versus_positions(values: dict[tuple[tuple[str, ...], str], list[float]], *,
                     baseline: str, metric: str) -> list[dict]:
    """Each (row, column) against (row, ``baseline``): ``values`` in percent per seed."""
    rows = []
    for (row, column), ours in sorted(values.items(), key=str):
        base = values.get((row, baseline))
        if column == baseline or not base or not ours:
            continue
        (mean_a, std_a), (mean_b, std_b) = mean_std(ours), mean_std(base)
        pooled = (math.sqrt((std_a**2 + std_b**2) / 2) if std_a is not None and std_b is not None
                  else math.nan)
        test = welch(ours, base)
        rows.append({"row": " / ".join(row), "column": column, "baseline": baseline,
                     "metric": metric, "difference": mean_a - mean_b,
                     "in_pooled_std": (mean_a - mean_b) / pooled if pooled > 0 else None,
                     "welch_t": test[0] if test else None, "p_value": test[1] if test else None,
                     "n": len(ours), "n_baseline": len(base)})
    return rows


def versus_baseline(groups: list[Group], row_keys, column_key: str, metric: str, *,
                    baseline: str) -> list[dict]:
    """One row per (row, column != baseline) that has a baseline in the same row."""
    values = {position: [100.0 * v for g in members for v in g.values(metric)]
              for position, members in place_groups(groups, row_keys, column_key).items()}
    return versus_positions(values, baseline=baseline, metric=metric)


def versus_cells(groups: list[Group], metric: str, *, baseline: str,
                 values: Callable[[Group], list[float]] | None = None) -> list[dict]:
    """Each cell of a sweep against the same sweep's cell named ``baseline`` (no paper table).

    The row is the sweep (``<sweep>/<cell>``), the column the cell. ``values`` gives a cell's
    per-seed values as fractions (default: the summary field ``metric``).
    """
    pick = values or (lambda g: g.values(metric))
    positions = {}
    for g in groups:
        sweep, _, cell = g.name.rpartition("/")
        positions[((sweep,), cell)] = [100.0 * v for v in pick(g)]
    return versus_positions(positions, baseline=baseline, metric=metric)


def versus_markdown(rows: list[dict], column_title: str = "operator") -> str:
    """The rows of :func:`versus_baseline` (or :func:`versus_cells`, ``column_title="cell"``)
    as a markdown table."""
    lines = [f"| row | {column_title} | Δ vs " + (rows[0]["baseline"] if rows else "baseline")
             + " (points) | Δ / pooled std | Welch t | p | n |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        def fmt(value, spec):
            return "-" if value is None else format(value, spec)
        lines.append(f"| {r['row']} | {r['column']} | {r['difference']:+.2f} | "
                     f"{fmt(r['in_pooled_std'], '+.1f')} | {fmt(r['welch_t'], '+.2f')} | "
                     f"{fmt(r['p_value'], '.3f')} | {r['n']} vs {r['n_baseline']} |")
    return "\n".join(lines)
