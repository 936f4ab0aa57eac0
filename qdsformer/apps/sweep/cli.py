"""``qdsformer sweep SWEEP.yaml...``: run a grid of training runs, resumably, in parallel.

Each cell is an ordinary run folder ``<out_dir>/<name>/<cell>/seed<k>/`` made by
``qdsformer train``. Re-running the command after a kill skips finished cells and resumes the
others from their last finished epoch; a per-run lock keeps two sweep processes on one folder
from running a cell twice. A failing cell is logged (``<run_dir>/train.log``) and the others go
on; the exit status is 0 only when every cell has finished. ``--dry-run`` lists the cells, their
state and their estimated cost without running anything.

Everything is checked before any cell runs, each problem one line (exit 2): every bad cell of
every file at once, ``--only`` matching no cell, ``--jobs``/``--threads`` below 1, and *stale*
cells: a finished (or partial) cell whose saved ``config.yaml`` differs from what the file now
expands to. ``--dry-run`` marks those ``stale`` and names the keys; ``--rerun-stale`` moves
each one's folder aside to ``<run_dir>.stale-<UTC time>`` and trains the cell again.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from qdsformer.apps.report.collect import read_history
from qdsformer.apps.sweep.local import CellResult, check_workers, run_local
from qdsformer.apps.sweep.slurm import run_submitit
from qdsformer.apps.sweep.spec import Cell, SweepSpec, cell_status, expand, load_sweep
from qdsformer.apps.sweep.stale import move_aside, stale_keys
from qdsformer.train.lock import is_locked
from qdsformer.train.runtime import estimate_run_seconds

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweeps", nargs="+", metavar="SWEEP.yaml",
                        help="sweep file(s) (see experiments/sweeps/); cells of all run in one pool")
    parser.add_argument("--jobs", type=int, default=1,
                        help="local worker processes (threads per worker = cores / jobs)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP threads per worker (default cores / jobs); use 1 on a machine "
                             "shared with other work")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the cells, their state and estimated cost; run nothing")
    parser.add_argument("--estimate", action="store_true",
                        help="with --dry-run: time a few training steps of each cell not measured "
                             "yet (one per cell name) to estimate its cost")
    parser.add_argument("--rerun-stale", action="store_true",
                        help="train stale cells (saved config differs from the file) again; "
                             "their old folders are kept as <run_dir>.stale-<time>")
    parser.add_argument("--only", metavar="SUBSTRING", action="append", default=[],
                        help="run only cells whose name/seed label contains SUBSTRING")
    parser.add_argument("--launcher", choices=["local", "submitit"], default="local",
                        help="run cells here (default) or submit each as a job through submitit")
    parser.add_argument("--cluster", default=None,
                        help="submitit cluster: slurm, local (testing) or auto-detect (default)")
    parser.add_argument("--slurm", metavar="KEY=VALUE", action="append", default=[],
                        help="submitit/SLURM parameter, e.g. timeout_min=600, slurm_partition=gpu, "
                             "gpus_per_node=1 (repeatable)")
    parser.add_argument("--no-wait", action="store_true",
                        help="with --launcher submitit: submit and return (job ids printed)")


def _measured_epoch_seconds(cell: Cell, siblings: list[Cell]) -> float | None:
    """Mean epoch time recorded by this cell or by another seed of the same cell."""
    for other in [cell] + [s for s in siblings if s.name == cell.name and s is not cell]:
        times = [row["epoch_seconds"] for row in read_history(other.run_dir / "metrics.csv")]
        if times:
            return sum(times) / len(times)
    return None


def _remaining_epochs(cell: Cell) -> int:
    """Epochs left to train: all of them for a new or stale cell, the rest for a partial one."""
    partial = cell_status(cell) == "partial" and not stale_keys(cell)
    done = len(read_history(cell.run_dir / "metrics.csv")) if partial else 0
    return max(cell.config.optim.epochs - done, 0)


def _timed_epoch_seconds(cell: Cell, cache: dict) -> float:
    """Seconds per epoch from a few timed training steps of the cell (one timing per name)."""
    key = (cell.run_dir.parts[-3], cell.name)
    if key not in cache:
        estimate = estimate_run_seconds(cell.config)
        cache[key] = estimate["total_seconds"] / max(estimate["epochs"], 1)
    return cache[key]


def dry_run(cells: list[Cell], *, out=None, estimate: bool = False) -> None:
    """Print one line per cell: label, state, epochs left, estimated cost; then totals.

    The cost comes from the epoch times recorded by the cell or another seed of it; with
    ``estimate``, cells without records are timed (training steps only, so a lower bound).
    """
    out = out or sys.stdout
    total, unknown, timed = 0.0, 0, {}
    for cell in cells:
        state = cell_status(cell)
        if state != "finished" and is_locked(cell.run_dir):
            state = "running"
        differ = stale_keys(cell) if state != "running" else []
        left = 0 if state == "finished" and not differ else _remaining_epochs(cell)
        per_epoch = _measured_epoch_seconds(cell, cells)
        source = "measured"
        if per_epoch is None and estimate and left:
            per_epoch, source = _timed_epoch_seconds(cell, timed), "timed steps"
        if left == 0:
            cost = "-"
        elif per_epoch is None:
            cost, unknown = "unmeasured", unknown + 1
        else:
            total += per_epoch * left
            cost = f"~{per_epoch * left / 60:.0f} min ({source})"
        stale = f"  stale ({state}; differs in {', '.join(differ)})" if differ else ""
        print(f"{cell.label:50s} {'stale' if differ else state:9s} {left:4d} epochs left  "
              f"{cost}{stale}", file=out)
    done = sum(cell_status(c) == "finished" for c in cells)
    print(f"{len(cells)} cells, {done} finished; estimated {total / 3600:.1f} core-hours for the "
          f"measured ones" + (f", {unknown} not measured yet" if unknown else ""), file=out)


class _Progress:
    """One overall bar on a terminal; one line per finished cell in a log file."""

    def __init__(self, total: int, jobs: int) -> None:
        self.total, self.jobs, self.done = total, jobs, 0
        self.started = time.perf_counter()
        self.spent: list[float] = []
        self.bar = None
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="cells", unit="cell", dynamic_ncols=True)

    def __call__(self, result: CellResult) -> None:
        self.done += 1
        if result.outcome in ("finished", "failed"):
            self.spent.append(result.seconds)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{result.cell.label}: {result.outcome}")
            return
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done
        eta = (sum(self.spent) / len(self.spent)) * left / self.jobs if self.spent else 0.0
        print(f"[{self.done}/{self.total}] {result.cell.label}: {result.outcome}"
              f" ({result.seconds:.0f}s; elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.0f} min)",
              flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _select(cells: list[Cell], only: list[str]) -> list[Cell]:
    """The cells whose label contains one of ``only`` (all when empty); ValueError for a
    substring that matches no cell."""
    for text in only:
        if not any(text in c.label for c in cells):
            raise ValueError(f"--only {text!r} matches no cell; cells: "
                             + ", ".join(c.label for c in cells[:6])
                             + (f", ... ({len(cells)} in all)" if len(cells) > 6 else ""))
    return [c for c in cells if not only or any(s in c.label for s in only)]


def _handle_stale(plan: list[tuple[SweepSpec, Cell]], rerun: bool) -> None:
    """Refuse stale cells (one line naming them and how to retrain), or move them aside."""
    stale = [(cell, keys) for _, cell in plan if not is_locked(cell.run_dir)
             for keys in [stale_keys(cell)] if keys]
    if stale and not rerun:
        listed = "; ".join(f"{c.label} ({', '.join(k)})" for c, k in stale)
        raise ValueError(f"{len(stale)} stale cell(s), whose saved config.yaml differs from "
                         f"the sweep file: {listed}; retrain them with --rerun-stale (the old "
                         f"folders are kept as <run_dir>.stale-<time>) or restore the file")
    for cell, _ in stale:
        print(f"stale: {cell.label} moved aside to {move_aside(cell.run_dir).name}")


def run(args: argparse.Namespace) -> int:
    check_workers(args.jobs, args.threads)
    plan: list[tuple[SweepSpec, Cell]] = []
    problems = []
    for path in args.sweeps:
        try:
            spec = load_sweep(path)
            cells = expand(spec, check_device=args.launcher == "local")  # all checked first
        except ValueError as err:
            problems.append(str(err))
            continue
        plan += [(spec, cell) for cell in cells]
    if problems:
        raise ValueError("; ".join(problems))
    selected = {id(c) for c in _select([cell for _, cell in plan], args.only)}
    plan = [(spec, cell) for spec, cell in plan if id(cell) in selected]
    cells = [cell for _, cell in plan]
    if args.dry_run:
        dry_run(cells, estimate=args.estimate)
        return 0
    _handle_stale(plan, args.rerun_stale)
    if args.launcher == "submitit":
        results = run_submitit(plan, cluster=args.cluster, parameters=args.slurm,
                               wait=not args.no_wait)
        if args.no_wait:
            return 0
    else:
        progress = _Progress(len(plan), args.jobs)
        results = run_local(cells, jobs=args.jobs, threads=args.threads, on_done=progress)
        progress.close()
    return report_results(results)


def report_results(results: list[CellResult], *, out=None) -> int:
    """Print the final summary; 0 when every cell has finished, else 1."""
    out = out or sys.stdout
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    print("sweep: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())), file=out)
    for result in results:
        if result.outcome == "failed":
            print(f"  failed: {result.cell.label} (exit {result.returncode}); log: "
                  f"{result.log_path}", file=out)
        elif result.outcome == "busy":
            print(f"  busy (run by another process): {result.cell.label}", file=out)
    unfinished = [r for r in results if r.outcome not in ("finished", "skipped")]
    return 0 if not unfinished else 1
