"""``qdsformer report DIR...``: tables and figures over the run folders under DIR.

Runs are grouped by cell (a sweep's ``<sweep>/<cell>/seed<k>`` folders, or one run per group
otherwise); the finished seeds of a cell, and the cells pooled at one position of a paper table,
must share their resolved config (``config.yaml``) but for the seed, else the report stops with
an error naming the differing keys (the rule: :mod:`qdsformer.apps.report.mixing`). A run
folder with a damaged or wrong-shaped file is skipped with a one-line warning naming the file
(:mod:`qdsformer.apps.report.collect`). Every argument (``--paper``, ``--metric``,
``--baseline``, ``--out``) is checked before anything is written, and the files are written as
one set: into a temporary folder beside ``--out`` that then replaces it, so ``--out`` must be a
new folder or a former report's. Cells are summarised as mean ± sample std over seeds: final
and best validation accuracy, test accuracy (none from a run whose test split was empty), best
and final epoch, time. ``--paper table1`` (or ``table_a3``, or a table file)
lays our numbers out in the paper's orientation with the paper's beside them and the gap in
units of our std. Without ``--paper``, each cell is compared with its sweep's cell named
``--baseline`` when there is one (``--baseline exact`` for a sweep of variants): difference in
points and in pooled std, Welch's t-test. The baseline is always ours (a cell, or with
``--paper`` an operator column filled with our runs); the paper's numbers come only from
``--paper``. Run folders holding ``qdsformer evaluate`` files
(``--out <run folder>``) get a table of accuracy with attention from circuit runners (noisy
simulators, hardware) beside exact attention, and, with a baseline, the accuracy lost there
compared the same way. Writes ``report.md``, ``cells.csv``, ``paper_<table>.csv``,
``versus_<baseline>*.csv``, ``evaluations.csv`` and figures to ``--out`` (default
``<first DIR>/report``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from qdsformer.apps.report.aggregate import aggregate
from qdsformer.apps.report.collect import collect_runs
from qdsformer.apps.report.compare import versus_baseline, versus_cells, versus_markdown
from qdsformer.apps.report.figures import curves_figure, depth_figure
from qdsformer.apps.report.paper import (
    available_tables,
    compare_to_paper,
    load_paper_table,
    place_groups,
)
from qdsformer.apps.report.render import (
    cell_rows,
    cells_markdown,
    evaluation_rows,
    evaluations_markdown,
    pivot_markdown,
)
from qdsformer.common.results import atomic_folder, atomic_write_text, write_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="results folder(s) to aggregate")
    parser.add_argument("--paper", action="append", default=[], metavar="TABLE",
                        help=f"put a paper table beside ours: {', '.join(available_tables())} "
                             "or a table file (repeatable)")
    parser.add_argument("--metric", default=None,
                        help="summary field compared with the paper (default: the table's)")
    parser.add_argument("--out", default=None, help="output folder (default: <first DIR>/report)")
    parser.add_argument("--baseline", default=None,
                        help="our runs that every other is compared with (difference, in "
                             "pooled std, Welch's t-test), never the paper's numbers (those are "
                             "--paper's): with --paper, an operator column of the table filled "
                             "with our runs; without, the cell of each sweep of that name; "
                             "default softmax where there is one; a name that matches nothing "
                             "is an error")
    parser.add_argument("--no-figures", action="store_true", help="tables only")


#: The files a report writes; an existing --out folder may hold nothing else (it is replaced).
REPORT_FILE = re.compile(r"(report\.md|cells\.csv|evaluations\.csv|(paper|versus)_.+\.csv"
                         r"|(curves|depth)_.+\.png)")
#: Summary fields that --metric (or a paper table) may name: fractions in [0, 1], accuracies
#: and, for multi-label data sets, micro-F1 (Table A2).
METRICS = ("val_acc", "best_val_acc", "test_acc", "val_micro_f1", "best_val_micro_f1",
           "test_micro_f1")


def _checked_out(args: argparse.Namespace) -> Path:
    """The output folder: new, or a former report's folder (only report files in it)."""
    out = Path(args.out) if args.out else Path(args.dirs[0]) / "report"
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir()
                       if not (p.is_file() and REPORT_FILE.fullmatch(p.name)))
        if other:
            raise ValueError(f"--out {out} holds files that are not a report's ({', '.join(other[:3])}"
                             f"{', ...' if len(other) > 3 else ''}); a report replaces its whole "
                             "folder, so give a new folder or a former report's")
    return out


def _checked_baseline(args: argparse.Namespace, groups, tables) -> str:
    """--baseline, checked against the cells (or, with --paper, the tables' columns) it names."""
    if tables:
        names = sorted({column for table in tables
                        for _, column in place_groups(groups, table.row_keys, table.column_key)})
        what = "column of the paper tables' layout (" + ", ".join(
            sorted({t.column_key for t in tables})) + ")"
    else:
        names = sorted({g.name.rpartition("/")[2] for g in groups if g.n})
        what = "cell"
    if args.baseline is not None and args.baseline not in names:
        listed = ", ".join(names) if tables else ", ".join(g.name for g in groups if g.n)
        raise ValueError(f"--baseline {args.baseline!r} names no {what}; there are: "
                         f"{listed or 'none with finished runs'}")
    return args.baseline or "softmax"


def run(args: argparse.Namespace) -> int:
    # every argument and input is checked before anything is written
    groups = aggregate(collect_runs(args.dirs))
    if not groups:
        raise ValueError(f"no readable run folders (config.yaml) under {', '.join(args.dirs)}")
    if len(set(args.paper)) != len(args.paper):
        raise ValueError(f"--paper names a table twice: {', '.join(args.paper)}")
    tables = [load_paper_table(name) for name in args.paper]
    named = ([("--metric", args.metric)] if args.metric is not None
             else [(f"paper table {t.name}: metric", t.metric) for t in tables])
    for what, metric in named:
        if metric not in METRICS:
            raise ValueError(f"{what} {metric!r} is not one of {', '.join(METRICS)}")
    for table in tables:  # raises when cells pooled at one table position differ in config
        place_groups(groups, table.row_keys, table.column_key)
    baseline = _checked_baseline(args, groups, tables)
    out = _checked_out(args)
    with atomic_folder(out) as folder:
        text = _write_report(args, groups, tables, baseline, folder)
    print(text)
    print(f"report: {out}")
    return 0


def _write_report(args: argparse.Namespace, groups, tables, baseline: str, out: Path) -> str:
    """Write every file of the report into ``out``; returns the text of ``report.md``."""
    sections = [f"# Report: {', '.join(args.dirs)}",
                "Accuracies in %, mean ± sample std (ddof 1) over the finished seeds of each cell; "
                "n counts finished seeds.", "", cells_markdown(groups)]
    write_csv(cell_rows(groups), out / "cells.csv")
    for table in tables:
        metric = args.metric or table.metric
        compared = compare_to_paper(groups, table, metric=metric)
        paper = {(tuple(str(v) for v in e["row"]), str(e["column"])): (e["mean"], e.get("std"))
                 for e in table.entries}
        sections += ["", f"## Beside {table.title}",
                     f"Ours: `{metric}` in %, mean ± std (n seeds); paper: its reported value; "
                     "Δ: (ours - paper) in units of our std.", "",
                     pivot_markdown(groups, table.row_keys, table.column_key, metric, paper=paper)]
        if compared:
            write_csv(compared, out / f"paper_{table.name}.csv")
        versus = versus_baseline(groups, table.row_keys, table.column_key, metric,
                                 baseline=baseline)
        if versus:
            sections += ["", f"Ours against `{baseline}` in the same row (`{metric}`): "
                         "difference of means, in units of the pooled std, Welch's t-test "
                         "(two-sided; few seeds: little power).", "", versus_markdown(versus)]
            write_csv(versus, out / f"versus_{baseline}_{table.name}.csv")
        if not args.no_figures and table.column_key.endswith("n_layers") and compared:
            rows = {r["row"] for r in compared}
            for row in sorted(rows):
                curve = {float(e["column"]): e["mean"] for e in table.entries
                         if " / ".join(str(v) for v in e["row"]) == row}
                picked = [g for g in groups if g.n and " / ".join(
                    str(g.config_value(k)) for k in table.row_keys) == row]
                fig = depth_figure(picked, table.column_key, metric,
                                   out / f"depth_{row.replace(' / ', '_')}.png", paper=curve,
                                   title=f"{row}: {metric} by circuit layers")
                sections += ["", f"![depth curve]({fig.name})"]
    if not tables:
        sections += _versus_cells_sections(groups, baseline, out)
    if any(g.evaluation_labels() for g in groups):
        sections += ["", "## Attention from circuit backends (`qdsformer evaluate`)",
                     "Accuracy with the attention of every layer estimated on the backend, beside "
                     "exact attention on the same images (%, mean ± std over seeds); lost = exact "
                     "- backend; agreement = predictions equal to the exact model's.", "",
                     evaluations_markdown(groups)]
        write_csv(evaluation_rows(groups), out / "evaluations.csv")
        if not tables:
            sections += _versus_cells_sections(groups, baseline, out, evaluations=True)
    if not args.no_figures:
        sweeps: dict[str, list] = {}
        for g in groups:
            sweeps.setdefault(g.name.split("/", 1)[0], []).append(g)
        for sweep, members in sweeps.items():
            fig = curves_figure(members, out / f"curves_{sweep}.png",
                                title=f"{sweep}: validation accuracy")
            sections += ["", f"![{sweep} curves]({fig.name})"]
    text = "\n".join(sections) + "\n"
    atomic_write_text(out / "report.md", text)
    return text


def _versus_cells_sections(groups, baseline: str, out: Path, evaluations: bool = False
                           ) -> list[str]:
    """Markdown sections (and CSV files) comparing every cell with its sweep's ``baseline``."""
    if not any(g.name.rpartition("/")[2] == baseline for g in groups):
        return []
    if not evaluations:
        metrics = {"val_acc": None, "test_acc": None}
    else:
        labels = sorted({label for g in groups for label in g.evaluation_labels()})
        metrics = {f"{quantity} on {label}": (lambda g, lb=label, q=quantity:
                                              g.evaluation_values(lb, q))
                   for label in labels for quantity in ("lost", "accuracy")}
    sections = []
    for metric, values in metrics.items():
        rows = versus_cells(groups, metric, baseline=baseline, values=values)
        if not rows:
            continue
        sections += ["", f"Each cell against `{baseline}` in the same sweep (`{metric}`): "
                     "difference of means in points, in units of the pooled std, Welch's "
                     "t-test (two-sided; few seeds: little power).", "",
                     versus_markdown(rows, column_title="cell")]
        slug = re.sub(r"[^A-Za-z0-9.-]+", "_", metric).strip("_")  # no ':', spaces, brackets
        write_csv(rows, out / f"versus_{baseline}_{slug}.csv")
    return sections
