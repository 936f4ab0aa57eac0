"""Submit sweep cells as jobs through submitit: SLURM on a cluster, subprocesses locally.

Each cell becomes one job that runs :func:`qdsformer.apps.sweep.local.run_cell` on its node,
so skipping, resuming, the run lock and the per-cell ``train.log`` behave exactly as in a local
sweep; re-submitting the same sweep after a time limit or a pre-emption finishes it. Job files
(pickled calls, SLURM logs) go to ``<out_dir>/<sweep>/.submitit/``, which must be on a file
system the compute nodes share. Parameters are submitit's (``timeout_min``, ``gpus_per_node``,
``cpus_per_task``, ``mem_gb``, ``slurm_partition``, ...). Needs the optional ``cluster`` extra
(``pip install -e ".[cluster]"``).
"""

from __future__ import annotations

from qdsformer.apps.sweep.local import CellResult, run_cell
from qdsformer.apps.sweep.spec import Cell, SweepSpec, cell_status
from qdsformer.common.settings import parse_assignment


def parse_parameters(assignments: list[str]) -> dict:
    """``["timeout_min=600", "slurm_partition=gpu"]`` -> a dict (the settings value syntax)."""
    return dict(parse_assignment(assignment) for assignment in assignments)


def run_submitit(plan: list[tuple[SweepSpec, Cell]], *, cluster: str | None = None,
                 parameters: list[str] = (), wait: bool = True) -> list[CellResult]:
    """Submit one job per unfinished cell of ``plan``; with ``wait``, collect their results.

    Finished cells are reported as skipped without a job. A job that dies without a result
    (time limit, out of memory, node failure) is reported as failed; its cell stays resumable.
    """
    try:
        import submitit
    except ImportError as err:
        raise ValueError("--launcher submitit needs submitit: pip install -e '.[cluster]'") from err
    options = {"timeout_min": 24 * 60, "cpus_per_task": 1, **parse_parameters(list(parameters))}
    results: list[CellResult | None] = [None] * len(plan)
    jobs = []
    executors: dict[str, object] = {}
    for index, (spec, cell) in enumerate(plan):
        if cell_status(cell) == "finished":
            results[index] = CellResult(cell, "skipped")
            continue
        if spec.name not in executors:
            executor = submitit.AutoExecutor(folder=spec.out_dir / spec.name / ".submitit" / "%j",
                                             cluster=cluster)
            executor.update_parameters(name=f"qdsformer-{spec.name}", **options)
            executors[spec.name] = executor
        job = executors[spec.name].submit(run_cell, cell)
        jobs.append((index, cell, job))
    for index, cell, job in jobs:
        if not wait:
            results[index] = CellResult(cell, "submitted")
            print(f"submitted {cell.label}: job {job.job_id}")
            continue
        try:
            results[index] = job.result()
        except Exception:  # submitit's UncompletedJobError / FailedJobError: the job died
            results[index] = CellResult(cell, "failed")
    return [r for r in results if r is not None]
