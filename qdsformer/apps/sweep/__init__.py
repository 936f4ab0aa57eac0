"""``qdsformer sweep``: a grid of training runs from one YAML file, resumable and parallel.

``spec`` reads and expands a sweep file into cells (pure); ``local`` runs cells as worker
processes on this machine; ``slurm`` submits them through submitit; ``cli`` is the command.
"""

from qdsformer.apps.sweep.spec import Cell, SweepSpec, cell_status, expand, load_sweep

__all__ = ["Cell", "SweepSpec", "cell_status", "expand", "load_sweep"]
