"""Every committed report under results/ regenerates from its committed run folders, with the
command of its README, to the same bytes (tables and report.md; the figures' bytes depend on
the matplotlib and FreeType versions, so they are only required to exist). This is what keeps
a renamed config key, a changed default or a new grouping rule from silently changing what a
committed run folder means."""

import shutil
from pathlib import Path

import pytest

from qdsformer.cli import main

REPO = Path(__file__).resolve().parents[2]

#: report folder -> the arguments of its README's ``qdsformer report`` command (without --out).
REPORTS = {
    "fmnist_ansatz": ["results/fmnist_ansatz", "results/fmnist_circuit_depth",
                      "--paper", "table_a1"],
    "fmnist_circuit_depth": ["results/fmnist_circuit_depth", "--paper", "table_a3"],
    "fmnist_comparison": ["results/fmnist_comparison", "--paper", "table1"],
    "fmnist_paper_schedule": ["results/fmnist_paper_schedule", "--paper", "table1"],
    "fmnist_strategies": ["results/fmnist_strategies", "--baseline", "static"],
    "fmnist_noise": ["results/fmnist_noise", "--baseline", "exact"],
    "mnist1d_comparison": ["results/mnist1d_comparison", "--baseline", "softmax"],
    # made from a scratch folder (its README): the new cell beside copies of two cells of
    # fmnist_strategies, so that the same-sweep comparison applies
    "fmnist_mixed_heldout": ["fmnist_mixed_heldout", "--baseline", "static"],
}


def test_every_committed_report_is_listed():
    committed = {p.parent.parent.name for p in (REPO / "results").glob("*/report/report.md")}
    assert committed == set(REPORTS)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_a_committed_report_regenerates_byte_for_byte(name, tmp_path, monkeypatch):
    if name == "fmnist_mixed_heldout":
        scratch = tmp_path / "scratch" / name
        shutil.copytree(REPO / "results" / name / "mixed", scratch / "mixed")
        shutil.copytree(REPO / "results/fmnist_strategies/static", scratch / "static")
        shutil.copytree(REPO / "results/fmnist_strategies/mixed", scratch / "mixed_fixed_batch")
        monkeypatch.chdir(scratch.parent)
    else:
        monkeypatch.chdir(REPO)  # the README's relative paths, which report.md names
    out = tmp_path / "report"
    assert main(["report", *REPORTS[name], "--out", str(out)]) == 0
    committed = REPO / "results" / name / "report"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in committed.iterdir())
    changed = [p.name for p in committed.iterdir() if p.suffix != ".png"
               and p.read_bytes() != (out / p.name).read_bytes()]
    assert changed == []
