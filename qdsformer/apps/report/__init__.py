"""``qdsformer report``: aggregate run folders over seeds into tables and figures.

``collect`` reads run folders, ``aggregate`` groups them and computes mean / std (pure),
``paper`` loads the paper's tables and lines ours up beside them, ``render`` writes markdown and
CSV, ``figures`` draws the curves, ``cli`` is the command.
"""

from qdsformer.apps.report.aggregate import Group, aggregate, mean_std
from qdsformer.apps.report.collect import RunRecord, collect_runs
from qdsformer.apps.report.paper import PaperTable, compare_to_paper, load_paper_table

__all__ = ["Group", "PaperTable", "RunRecord", "aggregate", "collect_runs", "compare_to_paper",
           "load_paper_table", "mean_std"]
