"""Shared pieces of every benchmark suite: timing, records, ratio tables, JSON output.

A suite times each implementation (``impl``) on the same ``case`` in one process and reports
ratios to a baseline implementation; absolute times are machine-dependent and only recorded.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from qdsformer.common.results import write_json as write_json_file


@dataclass
class Record:
    """One timing: ``case`` (the problem), ``impl`` (who solved it), ``median_s`` and extras."""

    case: str
    impl: str
    median_s: float
    extra: dict = field(default_factory=dict)


def limit_threads(n: int = 1) -> None:
    """Pin torch (and BLAS via env) to ``n`` threads; more threads thrash small machines."""
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    torch.set_num_threads(n)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
                clock: str = "wall") -> float:
    """Median time of ``fn()`` over ``repeats`` calls after ``warmup`` calls, in seconds.

    ``clock``: ``"wall"`` (``time.perf_counter``) or ``"cpu"`` (``time.process_time``, this
    process's CPU time: with one thread, robust to other jobs competing for the cores; it
    misses GPU time, so use it on CPU runs only).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    now = CLOCKS[clock]
    for _ in range(warmup):
        fn()
    _sync()
    times = []
    for _ in range(repeats):
        start = now()
        fn()
        _sync()
        times.append(now() - start)
    return statistics.median(times)


def ratio_table(records: list[Record], baseline: str) -> str:
    """A text table: one row per case, one column per impl, each time / baseline's time."""
    cases = list(dict.fromkeys(r.case for r in records))
    impls = list(dict.fromkeys(r.impl for r in records))
    by_key = {(r.case, r.impl): r.median_s for r in records}
    width = max(len(c) for c in cases) + 2
    cols = [max(len(i), 8) + 2 for i in impls]  # names never run together
    lines = [f"{'case':<{width}}" + "".join(f"{i:>{w}}" for i, w in zip(impls, cols))
             + f"   (time / {baseline})"]
    for case in cases:
        base = by_key.get((case, baseline))
        cells = []
        for impl, w in zip(impls, cols):
            t = by_key.get((case, impl))
            cells.append(f"{'-':>{w}}" if t is None or not base else f"{t / base:>{w}.2f}")
        lines.append(f"{case:<{width}}" + "".join(cells))
    return "\n".join(lines)


def write_json(records: list[Record], path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write ``records`` as a JSON list (``case``, ``impl``, ``median_s`` + extras) to ``path``.

    The file stays a plain list of records; ``meta`` (machine facts, settings), when given,
    goes to ``<path stem>.meta.json`` beside it.
    """
    path = Path(path)
    rows = []
    for r in records:
        row = asdict(r)
        row.update(row.pop("extra"))
        rows.append(row)
    write_json_file(rows, path)
    if meta is not None:
        write_json_file(meta, path.with_suffix(".meta.json"))
    return path


def environment() -> dict:
    """Machine facts stored next to benchmark numbers."""
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
