"""DSM expressivity analysis (QDSFormer, Born et al., NeurIPS 2025, section 3).

Metrics on attention matrices (:mod:`qdsformer.analysis.metrics`), the input sets of the
study (:mod:`qdsformer.analysis.inputs`), and the operator comparison behind
``qdsformer analyze`` (:mod:`qdsformer.analysis.study`).
"""

from qdsformer.analysis.inputs import (
    capture_scores,
    checkpoint_scores,
    grid_unit_vectors,
    hypercube_grid,
    random_scores,
    sphere_grid,
)
from qdsformer.analysis.metrics import (
    birkhoff_distance,
    cell_range,
    effective_rank,
    entropy,
    information_kept,
    marginal_max_error,
    spearman,
    unique_count,
)

__all__ = [
    "birkhoff_distance",
    "capture_scores",
    "checkpoint_scores",
    "cell_range",
    "effective_rank",
    "entropy",
    "grid_unit_vectors",
    "hypercube_grid",
    "information_kept",
    "marginal_max_error",
    "random_scores",
    "spearman",
    "sphere_grid",
    "unique_count",
]
