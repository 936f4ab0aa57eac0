"""``qdsformer report`` on hostile input: mixed configs, damaged run records, bad arguments.

Every bad argument is an exact one-line error (exit 2) with nothing written; a damaged run
record is skipped with a one-line warning naming the file; the report is written as one set.
"""

import csv
import json
import logging
from pathlib import Path

import pytest
import yaml

from qdsformer.apps.report import aggregate, collect_runs
from qdsformer.apps.report.mixing import config_differences
from qdsformer.apps.sweep.spec import expand, load_sweep
from qdsformer.cli import main
from qdsformer.train.config import to_dict

REPO = Path(__file__).resolve().parents[2]


def config(name: str = "softmax", run_seed: int = 0, **kwargs) -> dict:
    return {"experiment": "cmp", "data": {"name": "fashion-mnist", "root": None},
            "model": {"depth": 2}, "attention": {"name": name, "kwargs": kwargs},
            "optim": {"epochs": 2}, "run": {"seed": run_seed, "out_dir": "results"}}


def make_run(root: Path, cell: str, seed: int, cfg: dict | None = None, *,
             val=(0.80, 0.88), test: float | None = 0.87, **summary) -> Path:
    run_dir = root / "cmp" / cell / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg or config(run_seed=seed)))
    with (run_dir / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "val_acc"])
        writer.writerows([epoch, acc] for epoch, acc in enumerate(val, 1))
    record = {"finished": True, "val_acc": val[-1], "best_val_acc": max(val), "test_acc": test,
              "train_seconds": 20.0, "n_test": 100, **summary}
    (run_dir / "summary.json").write_text(json.dumps(record))
    return run_dir


def report(root: Path, *args: str) -> int:
    return main(["report", str(root / "cmp"), "--no-figures", *args])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def two_cells(tmp_path):
    for seed in (0, 1):
        make_run(tmp_path, "softmax", seed, val=(0.8, 0.86 + 0.02 * seed), test=0.85 + 0.01 * seed)
        make_run(tmp_path, "qontot", seed, config("qontot", seed, n_layers=2, seed=seed),
                 val=(0.8, 0.9 - 0.01 * seed), test=0.88 - 0.02 * seed)
    return tmp_path


# -- grouping: one cell, one config (seed keys aside) -------------------------------------------

def test_a_cell_of_two_operators_is_an_error_naming_the_key(tmp_path, capsys):
    make_run(tmp_path, "mixed", 0, config("softmax", 0))
    make_run(tmp_path, "mixed", 1, config("qr", 1))
    assert report(tmp_path) == 2
    assert error_line(capsys) == (
        "qdsformer report: error: cell cmp/mixed mixes runs of different configs: "
        "attention.name = 'softmax' (seed0) / 'qr' (seed1); put them in separate cells "
        "(folders) or remove the odd runs")
    assert not (tmp_path / "cmp" / "report").exists()


def test_seed_keys_bookkeeping_and_coincidences(tmp_path):
    runs = [(f"seed{s}", make_run(tmp_path, "q", s, config("qontot", s, n_layers=1, seed=s)))
            for s in (0, 1, 2)]
    records = {r.run_dir.name: r for r in collect_runs([tmp_path])}
    pairs = [(label, records[label]) for label, _ in runs]
    assert config_differences(pairs) == {}  # kwargs.seed follows run.seed; n_layers 1 at seed 1
    fixed = config("qontot", 3, n_layers=1, seed=0)  # a circuit seed that does not follow
    fixed["run"].update(out_dir="elsewhere", device="cuda")  # bookkeeping: ignored
    make_run(tmp_path, "q", 3, fixed)
    records = {r.run_dir.name: r for r in collect_runs([tmp_path])}
    assert config_differences(records.items()) == {
        "attention.kwargs.seed": {"0": ["seed0", "seed3"], "1": ["seed1"], "2": ["seed2"]}}
    one_seed = {f"x{k}": records["seed0"] for k in range(2)}  # same seed twice: nothing to ignore
    assert config_differences(one_seed.items()) == {}


@pytest.mark.parametrize("sweep", sorted(
    p.name for p in (REPO / "experiments" / "sweeps").glob("*.yaml")
    if "seed_keys" in yaml.safe_load(p.read_text())))
def test_shipped_sweeps_group_their_seeds_and_keep_cells_apart(sweep, tmp_path):
    """Each cell's seeds (run.seed and the sweep's seed_keys following it) are one config;
    two different cells of the sweep never are."""
    cells = expand(load_sweep(REPO / "experiments" / "sweeps" / sweep), check_device=False)
    for cell in cells:
        run_dir = tmp_path / cell.run_dir
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cell.config)))
    records = collect_runs([tmp_path])
    by_cell: dict[str, list] = {}
    for record in records:
        by_cell.setdefault(record.group, []).append(record)
    assert len(by_cell) == len({c.name for c in cells}) and len(records) == len(cells)
    for members in by_cell.values():
        assert config_differences((r.run_dir.name, r) for r in members) == {}
    firsts = [(name, members[0]) for name, members in by_cell.items()]
    for a, b in zip(firsts, firsts[1:]):
        assert config_differences([a, b]), (a[0], b[0])


def test_pooling_two_cells_at_one_paper_position_needs_one_config(tmp_path, capsys):
    make_run(tmp_path, "softmax", 0)
    other = config("softmax", 0)
    other["optim"]["epochs"] = 50
    make_run(tmp_path, "softmax_long", 0, other)
    assert report(tmp_path, "--paper", "table1") == 2
    assert error_line(capsys) == (
        "qdsformer report: error: table position fashion-mnist / 2, softmax mixes runs of "
        "different configs: optim.epochs = 2 (cmp/softmax) / 50 (cmp/softmax_long); put them "
        "in separate cells (folders) or remove the odd runs")
    assert not (tmp_path / "cmp" / "report").exists()


def test_folders_a_sweep_moved_aside_as_stale_are_left_out(two_cells):
    stale = make_run(two_cells, "softmax", 7, config("qr", 7))  # an older sweep file's run
    stale.rename(stale.with_name("seed0.stale-20261204-193000"))
    groups = {g.name: g for g in aggregate(collect_runs([two_cells]))}
    assert groups["cmp/softmax"].n == 2 and len(collect_runs([two_cells])) == 4


def test_cells_of_one_short_name_in_two_places_stay_apart(tmp_path):
    for where, epochs in (("a", 2), ("b", 6)):
        run_dir = tmp_path / where / "runs" / "kl-seed0"
        run_dir.mkdir(parents=True)
        cfg = config()
        cfg["optim"]["epochs"] = epochs
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
    names = sorted(g.name for g in aggregate(collect_runs([tmp_path])))
    assert names == [str(tmp_path / "a" / "runs" / "kl-seed0"),
                     str(tmp_path / "b" / "runs" / "kl-seed0")]


# -- damaged run records: skipped with one warning naming the file ------------------------------

DAMAGE = {
    "summary not a mapping": ("summary.json", "[1, 2]", "not a mapping but list"),
    "summary NaN": ("summary.json", '{"finished": true, "val_acc": NaN, "best_val_acc": 0.9, '
                    '"train_seconds": 1.0}', "val_acc is nan, not a finite number"),
    "summary missing val_acc": ("summary.json", '{"finished": true, "best_val_acc": 0.9, '
                                '"train_seconds": 1.0}', "no val_acc"),
    "summary accuracy in %": ("summary.json", '{"finished": true, "val_acc": 88.0, '
                              '"best_val_acc": 0.9, "train_seconds": 1.0}',
                              "val_acc is 88.0, not a fraction in [0, 1]"),
    "summary finished as text": ("summary.json", '{"finished": "yes"}',
                                 "finished is 'yes', not true or false"),
    "summary bad n_test": ("summary.json", '{"finished": false, "n_test": -1}',
                           "n_test is -1, not a count"),
    "summary not JSON": ("summary.json", "{", "Expecting property name enclosed in double quotes: "
                         "line 1 column 2 (char 1)"),
    "metrics garbage": ("metrics.csv", "epoch,val_acc\n1,abc\n",
                        "line 2 holds a value that is not a number"),
    "metrics short row": ("metrics.csv", "epoch,val_acc\n1\n",
                          "line 2 has fewer values than the header"),
    "metrics no val_acc": ("metrics.csv", "epoch,loss\n1,0.5\n", "no val_acc column"),
    "metrics NaN": ("metrics.csv", "epoch,val_acc\n1,nan\n", "line 2: epoch or val_acc is not finite"),
    "config a list": ("config.yaml", "- a\n- b\n", "not a mapping but list"),
    "config empty": ("config.yaml", "", "not a mapping but NoneType"),
    "config binary": ("config.yaml", b"\xff\xfe\x00", None),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_record_is_skipped_with_one_warning(case, two_cells, caplog, capsys):
    name, content, reason = DAMAGE[case]
    path = two_cells / "cmp" / "softmax" / "seed1" / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="qdsformer.apps.report"):
        assert report(two_cells) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    prefix = f"skipped run folder {path.parent}: {path}: "
    assert warnings[0].startswith(prefix)
    if reason is not None:
        assert warnings[0] == prefix + reason
    assert "| cmp/softmax | 1 | 86.00 |" in capsys.readouterr().out  # seed0 alone


def test_a_damaged_evaluation_file_costs_only_itself(two_cells, caplog):
    bad = two_cells / "cmp" / "qontot" / "seed0" / "evaluate__x.json"
    bad.write_text('{"results": {"exact": {"accuracy": 0.5}, "aer": {"accuracy": NaN, '
                   '"agreement": 1, "attention_frobenius_mean": [0.1]}}, "backend": "aer"}')
    with caplog.at_level(logging.WARNING, logger="qdsformer.apps.report"):
        groups = {g.name: g for g in aggregate(collect_runs([two_cells]))}
    assert groups["cmp/qontot"].n == 2 and not groups["cmp/qontot"].evaluation_labels()
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped an evaluation file: {bad}: results['aer'] holds a value that is not a "
        "finite number"]


def test_no_number_from_an_empty_test_split(two_cells, capsys):
    for seed in (0, 1):
        run_dir = two_cells / "cmp" / "softmax" / f"seed{seed}"
        summary = json.loads((run_dir / "summary.json").read_text())
        if seed == 0:
            summary.update(n_test=0, test_acc=0.0)
        else:
            summary.pop("test_acc")
        (run_dir / "summary.json").write_text(json.dumps(summary))
    assert report(two_cells) == 0
    assert "| cmp/softmax | 2 | 87.00 ± 1.41 | 87.00 ± 1.41 | - |" in capsys.readouterr().out
    rows = {r["cell"]: r for r in csv.DictReader((two_cells / "cmp" / "report" / "cells.csv").open())}
    assert rows["cmp/softmax"]["test_acc_mean"] == "" and rows["cmp/qontot"]["test_acc_mean"]
    summary = two_cells / "cmp" / "qontot" / "seed1" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "n_test": 0}))
    assert report(two_cells) == 0  # one of two seeds has a test accuracy: the mean says so
    assert "| 88.00 (n=1) |" in capsys.readouterr().out


# -- arguments: checked before anything is written ---------------------------------------------

def former_report(root: Path) -> tuple[Path, dict[str, bytes]]:
    assert report(root) == 0
    out = root / "cmp" / "report"
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


def unchanged(out: Path, files: dict[str, bytes]) -> bool:
    return {p.name: p.read_bytes() for p in out.iterdir()} == files and not [
        p for p in out.parent.iterdir() if p.name.startswith(".report.")]


def test_a_bad_paper_name_writes_nothing(two_cells, capsys):
    out, files = former_report(two_cells)
    make_run(two_cells, "softmax", 2, val=(0.5, 0.5))  # would change cells.csv
    capsys.readouterr()
    assert report(two_cells, "--paper", "table99") == 2
    assert error_line(capsys) == (
        "qdsformer report: error: unknown paper table 'table99'; bundled: fig4a, table1, "
        "table2, table_a1, table_a2, table_a3 (or give a table file's path)")
    assert unchanged(out, files)


@pytest.mark.parametrize("args, message", [
    (["--baseline", "sofmax"], "--baseline 'sofmax' names no cell; there are: cmp/qontot, "
                               "cmp/softmax"),
    (["--baseline", "sofmax", "--paper", "table1"],
     "--baseline 'sofmax' names no column of the paper tables' layout (attention.name); "
     "there are: qontot, softmax"),
    (["--metric", "train_seconds", "--paper", "table1"],
     "--metric 'train_seconds' is not one of val_acc, best_val_acc, test_acc, val_micro_f1, "
     "best_val_micro_f1, test_micro_f1"),
    (["--paper", "table1", "--paper", "table1"], "--paper names a table twice: table1, table1"),
])
def test_bad_arguments_are_one_line_and_write_nothing(two_cells, capsys, args, message):
    out, files = former_report(two_cells)
    capsys.readouterr()
    assert report(two_cells, *args) == 2
    assert error_line(capsys) == f"qdsformer report: error: {message}"
    assert unchanged(out, files)


def test_a_table_file_whose_metric_is_no_accuracy_is_refused(two_cells, capsys, tmp_path):
    table = tmp_path / "mine.yaml"
    table.write_text(yaml.safe_dump({"name": "mine", "title": "t", "metric": "train_seconds",
                                     "row_keys": ["data.name"], "column_key": "attention.name",
                                     "entries": []}))
    assert report(two_cells, "--paper", str(table)) == 2
    assert error_line(capsys) == ("qdsformer report: error: paper table mine: metric "
                                  "'train_seconds' is not one of val_acc, best_val_acc, test_acc, "
                                  "val_micro_f1, best_val_micro_f1, test_micro_f1")
    assert not (two_cells / "cmp" / "report").exists()


def test_out_must_be_a_new_folder_or_a_former_report(two_cells, capsys):
    a_file = two_cells / "note.txt"
    a_file.write_text("mine")
    assert report(two_cells, "--out", str(a_file)) == 2
    assert error_line(capsys) == f"qdsformer report: error: --out {a_file} is a file, not a folder"
    assert report(two_cells, "--out", str(two_cells / "cmp")) == 2
    assert error_line(capsys) == (
        f"qdsformer report: error: --out {two_cells / 'cmp'} holds files that are not a "
        "report's (qontot, softmax); a report replaces its whole folder, so give a new folder "
        "or a former report's")
    assert a_file.read_text() == "mine" and sorted(p.name for p in two_cells.iterdir()) == [
        "cmp", "note.txt"]


def test_the_report_replaces_its_folder_as_one_set(two_cells, monkeypatch):
    out, files = former_report(two_cells)
    (out / "depth_gone.png").write_bytes(b"from an older report")
    assert report(two_cells) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(files)  # the stale figure is gone

    from qdsformer.apps.report import cli

    def broken(*args, **kwargs):
        raise OSError("disk full")

    files = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(cli, "atomic_write_text", broken)  # report.md, the last file, fails
    assert report(two_cells) == 2
    assert unchanged(out, files)
    nested = two_cells / "new" / "deeper" / "report"
    assert report(two_cells, "--out", str(nested)) == 2
    assert not (two_cells / "new").exists()


def test_a_key_an_older_run_lacks_counts_as_its_default(tmp_path, capsys):
    """A run written before a config key existed (no ``data.fold``) averages with a new run at
    that key's default, and not with one that sets another value."""
    old = config(run_seed=0)
    new = config(run_seed=1)
    new["data"].update(fold=0, n_folds=5)
    make_run(tmp_path, "softmax", 0, old)
    make_run(tmp_path, "softmax", 1, new)
    assert report(tmp_path) == 0
    other = config(run_seed=2)
    other["data"].update(fold=0, n_folds=3)
    make_run(tmp_path, "softmax", 2, other)
    assert report(tmp_path) == 2
    assert "data.n_folds = 5 (seed0, seed1) / 3 (seed2)" in error_line(capsys)
