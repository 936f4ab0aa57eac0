"""Table A2 (IR spectra): the bundled paper numbers, the sweep they cover, the report."""

import itertools
import json
from pathlib import Path

import pytest
import yaml

from qdsformer.apps.report import aggregate, collect_runs, compare_to_paper, load_paper_table
from qdsformer.cli import main
from qdsformer.train.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "experiments" / "sweeps" / "table_a2_ir.yaml"
OPERATORS = ("softmax", "softmax_sigma2", "qr", "qontot", "sinkhorn")
PRESETS = ("qdsformer_ir_t8", "qdsformer_ir_t16")
# REFERENCE.md, "IR spectra, Table A2", in the paper's column order (softmax / sigma2 / QR /
# QontOT / Sinkhorn): 8 x 8 then 16 x 16, mean and std in percent
REFERENCE = {
    "qdsformer_ir_t8": "81.60+-0.34 / 81.41+-0.23 / 81.68+-0.18 / 81.70+-0.05 / 81.38+-0.22",
    "qdsformer_ir_t16": "81.55+-0.07 / 80.94+-0.13 / 81.48+-0.10 / 81.06+-0.27 / 80.98+-0.30",
}


def test_table_a2_holds_the_reference_numbers():
    table = load_paper_table("table_a2")
    assert table.metric == "test_micro_f1" and table.row_keys == ("model.preset",)
    got = {(e["row"][0], e["column"]): (e["mean"], e["std"]) for e in table.entries}
    expected = {}
    for preset, text in REFERENCE.items():
        for op, cell in zip(OPERATORS, text.split(" / "), strict=True):
            mean, std = cell.split("+-")
            expected[preset, op] = (float(mean), float(std))
    assert got == expected


def test_sweep_covers_every_cell_and_fold_as_valid_configs():
    sweep = yaml.safe_load(SWEEP.read_text())
    assert sweep["grid"] == {"data.fold": [0, 1, 2, 3, 4]}
    base = (SWEEP.parent / sweep["base"]).resolve()
    cells = set()
    for fold, extra in itertools.product(sweep["grid"]["data.fold"],
                                         sweep["variants"].values()):
        overrides = [f"{k}={json.dumps(v)}" for k, v in {**sweep["set"], **extra}.items()]
        config = load_config(base, [*overrides, f"data.fold={fold}"])
        assert config.data.name == "ir" and config.model.depth == 1
        if config.attention.name == "qontot":
            kw = config.attention.kwargs
            tokens = 8 if config.model.preset.endswith("t8") else 16
            assert kw["n_layers"] == 16 and 2 ** (kw["n_aux_qubits"] - 1) == tokens
        cells.add((config.model.preset, config.attention.name, config.data.fold))
    assert cells == set(itertools.product(PRESETS, OPERATORS, range(5)))


def _run(root: Path, preset: str, op: str, fold: int, f1: float) -> None:
    run_dir = root / "table_a2_ir" / f"{op}_{preset[-3:]}-fold{fold}" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({
        "data": {"name": "ir", "fold": fold}, "model": {"preset": preset, "depth": 1},
        "attention": {"name": op, "kwargs": {}}}))
    (run_dir / "metrics.csv").write_text(f"epoch,val_acc,val_micro_f1,epoch_seconds\n"
                                         f"1,0.9,{f1},1.0\n")
    (run_dir / "summary.json").write_text(json.dumps({
        "finished": True, "val_acc": 0.9, "best_val_acc": 0.9, "test_acc": 0.9,
        "val_micro_f1": f1, "test_micro_f1": f1, "train_seconds": 1.0}))


def test_report_pools_the_folds_against_the_paper(tmp_path, capsys):
    for fold, f1 in enumerate([0.80, 0.81, 0.82, 0.83, 0.84]):
        _run(tmp_path, "qdsformer_ir_t8", "qontot", fold, f1)
    rows = compare_to_paper(aggregate(collect_runs([tmp_path])), load_paper_table("table_a2"))
    row = next(r for r in rows if r["row"] == "qdsformer_ir_t8" and r["column"] == "qontot")
    assert row["n"] == 5 and row["ours_mean"] == pytest.approx(82.0)
    assert row["paper_mean"] == 81.70
    assert main(["report", str(tmp_path), "--paper", "table_a2", "--out",
                 str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "paper_table_a2.csv").stat().st_size > 0
