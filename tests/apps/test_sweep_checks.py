"""``qdsformer sweep`` checks everything before it runs, and never skips a stale cell silently.

Each class of bad input: the exact one-line message (exit 2) and nothing written. Stale
cells: a fresh cell is not stale, a cell saved by the code before this check is not stale,
an edited file marks its finished cells, a run refuses them, ``--rerun-stale`` keeps the old
folder aside and trains again. Every shipped sweep file dry-runs.
"""

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from qdsformer.apps.sweep import expand, load_sweep
from qdsformer.apps.sweep.stale import stale_keys
from qdsformer.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = "{optim.epochs: 1, data.train_limit: 64, data.val_limit: 32, data.test_limit: 32}"


def write_sweep(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(body).replace("OUT", str(tmp_path / "out")))
    return path


def fails_with(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    before = set(tmp_path.rglob("*"))
    assert main(["sweep", *argv]) == 2
    assert capsys.readouterr().err == f"qdsformer sweep: error: {message}\n"
    assert set(tmp_path.rglob("*")) == before


def test_duplicate_variant_names_are_an_error(tmp_path, capsys):
    path = write_sweep(tmp_path, """\
        name: dup
        out_dir: OUT
        variants:
          a: {attention.name: softmax}
          a: {attention.name: qr}
        """)
    fails_with([str(path)], f"sweep file {path} line 5, column 3: key 'a' is written twice in "
               "one mapping (YAML would keep only the last)", tmp_path, capsys)


def test_seed_keys_matching_no_cell_are_an_error(tmp_path, capsys):
    path = write_sweep(tmp_path, """\
        name: sk
        out_dir: OUT
        seed_keys: [attention.kwargs.sed]
        variants:
          a: {attention.name: softmax}
        """)
    fails_with([str(path)], "sweep sk: seed_keys attention.kwargs.sed match no key of any cell",
               tmp_path, capsys)


def test_every_bad_cell_is_listed_at_once_before_any_runs(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""\
        name: bad
        out_dir: OUT
        seeds: [0, 1]
        set: {TINY}
        variants:
          ok: {{attention.name: softmax}}
          typo: {{attention.name: qontot, attention.kwargs: {{n_layer: 2}}}}
          shots: {{attention.name: qontot, attention.kwargs: {{shots: -5}}}}
          lonely: {{attention.name: softmax}}
        grid:
          model.depth: [1]
        """)
    fails_with([str(path), "--dry-run"], "sweep bad: bad cells: cell typo-depth1 (seeds 0, 1): "
               "invalid config: attention.kwargs: bad arguments for attention normaliser "
               "'qontot': QontOT.__init__() got an unexpected keyword argument 'n_layer'; "
               "cell shots-depth1 (seeds 0, 1): invalid config: attention.kwargs: shots must be "
               "None or an int >= 0 (0 = exact P), got -5", tmp_path, capsys)


def test_set_mapping_merges_and_data_name_gets_no_kwargs(tmp_path):
    path = write_sweep(tmp_path, """\
        name: merge
        out_dir: OUT
        base: {base}
        set: {{optim: {{epochs: 1}}}}
        grid:
          data.name: [fashion-mnist, mnist]
        """.format(base=REPO / "experiments/configs/fmnist_qontot.yaml"))
    cells = expand(load_sweep(path))
    optim = cells[0].config.optim
    assert (optim.epochs, optim.lr, optim.schedule, optim.milestones) == (
        1, 5e-4, "multistep", [31, 45])
    assert [c.config.data.name for c in cells] == ["fashion-mnist", "mnist"]


@pytest.mark.parametrize("argv, message", [
    (["--only", "zzz"], "--only 'zzz' matches no cell; cells: opt/a/seed0"),
    (["--jobs", "0"], "--jobs must be an integer >= 1, got 0"),
    (["--threads", "-1"], "--threads must be an integer >= 1, got -1"),
])
def test_bad_options_are_one_line(argv, message, tmp_path, capsys):
    path = write_sweep(tmp_path, """\
        name: opt
        out_dir: OUT
        variants:
          a: {attention.name: softmax}
        """)
    fails_with([str(path), *argv], message, tmp_path, capsys)


def _finished(cell) -> bool:
    summary = cell.run_dir / "summary.json"
    return summary.exists() and json.loads(summary.read_text())["finished"]


def test_stale_cells_are_marked_refused_and_rerun_aside(tmp_path, capsys):
    body = f"""\
        name: st
        out_dir: OUT
        seeds: [0]
        seed_keys: [attention.kwargs.seed]
        set: {TINY}
        variants:
          soft: {{attention.name: softmax}}
          quantum: {{attention.name: qontot, attention.kwargs: {{n_layers: 1, n_aux_qubits: 1,
                                                                  seed: 0}}}}
        """
    path = write_sweep(tmp_path, body)
    assert main(["sweep", str(path), "--only", "soft"]) == 0
    soft = expand(load_sweep(path))[0]
    assert _finished(soft) and stale_keys(soft) == []  # a freshly finished cell is not stale
    capsys.readouterr()

    path.write_text(path.read_text().replace("optim.epochs: 1", "optim.epochs: 2"))
    assert main(["sweep", str(path), "--dry-run"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.split()[:2] == ["st/soft/seed0", "stale"]
    assert line.endswith("stale (finished; differs in optim.epochs)")

    saved = (soft.run_dir / "summary.json").read_bytes()
    before = set(tmp_path.rglob("*"))
    assert main(["sweep", str(path), "--only", "soft"]) == 2
    assert capsys.readouterr().err == (
        "qdsformer sweep: error: 1 stale cell(s), whose saved config.yaml differs from the "
        "sweep file: st/soft/seed0 (optim.epochs); retrain them with --rerun-stale (the old "
        "folders are kept as <run_dir>.stale-<time>) or restore the file\n")
    assert set(tmp_path.rglob("*")) == before

    assert main(["sweep", str(path), "--only", "soft", "--rerun-stale"]) == 0
    aside = [p for p in soft.run_dir.parent.iterdir() if p.name.startswith("seed0.stale-")]
    assert len(aside) == 1 and (aside[0] / "summary.json").read_bytes() == saved
    soft = expand(load_sweep(path))[0]
    assert _finished(soft) and stale_keys(soft) == []
    assert json.loads((soft.run_dir / "summary.json").read_text())["epochs"] == 2


def test_a_cell_saved_before_the_stale_check_is_not_stale(tmp_path):
    """config.yaml as written by the sweep code before issue 21 (a qontot cell, seed key)."""
    path = write_sweep(tmp_path, """\
        name: oldcode
        out_dir: OUT
        seeds: [0, 1]
        seed_keys: [attention.kwargs.seed]
        set: {optim.epochs: 1, data.train_limit: 64, data.val_limit: 32, data.test_limit: 32}
        variants:
          softmax: {attention.name: softmax}
          qontot: {attention.name: qontot, attention.kwargs: {n_aux_qubits: 1, n_layers: 2,
                                                              strategy: static, seed: 0}}
        grid:
          optim.lr: [1.0e-3]
        """)
    cell = next(c for c in expand(load_sweep(path)) if c.label == "oldcode/qontot-lr0.001/seed1")
    cell.run_dir.mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "data" / "cell_config_before_issue21.yaml",
                cell.run_dir / "config.yaml")
    (cell.run_dir / "summary.json").write_text('{"finished": true}')
    assert stale_keys(cell) == []
    path.write_text(path.read_text().replace("n_layers: 2", "n_layers: 3"))
    cell = next(c for c in expand(load_sweep(path)) if c.label == "oldcode/qontot-lr0.001/seed1")
    assert stale_keys(cell) == ["attention.kwargs.n_layers"]


@pytest.mark.parametrize("sweep", sorted((REPO / "experiments/sweeps").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_shipped_sweep_dry_runs(sweep, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # out_dir: results, as a user runs it from the checkout
    assert main(["sweep", str(sweep), "--dry-run"]) == 0
    out = capsys.readouterr().out
    cells = len(out.splitlines()) - 1
    assert cells >= 1 and out.splitlines()[-1].startswith(f"{cells} cells")
    assert " stale " not in out  # committed results match the files that made them
