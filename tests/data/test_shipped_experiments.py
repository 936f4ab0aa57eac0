"""Every shipped experiment file trains: found by glob, so a new file cannot be forgotten.

- each ``experiments/configs/*.yaml`` validates as shipped, then trains one step on tiny data;
- one cell (the first) of each ``experiments/sweeps/*.yaml`` trains one step from the config
  the sweep resolves for it (the dry-run of every sweep is tested in ``tests/apps``);
- each ``experiments/*.py`` script runs with ``--quick``.

The data are stand-ins in the official formats (this folder's ``conftest.py``): MNIST and
Fashion-MNIST IDX files in torchvision's layout (Eureka composes both) and a MedMNIST
``<flag>.npz`` for every flag and IR-spectra parquet chunks, so nothing depends on the data
sets of the machine. One step: ``batch_size`` = the train, val and test limits = :data:`BATCH`,
one epoch (no warmup epochs: the shipped warmup is validated as shipped first; a mixed
strategy's fit and check batches take half of it each). Only the batch is shrunk, never a
circuit.
"""

import json
import runpy
import sys
from pathlib import Path

import pytest
import yaml

from qdsformer.apps.sweep.spec import expand, load_sweep
from qdsformer.cli import main
from qdsformer.data.medmnist_sets import MEDMNIST_CLASSES
from qdsformer.train import load_config, load_distill_config
from qdsformer.train.config import to_dict
from qdsformer.train.validate import validate_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "experiments" / "configs").glob("*.yaml"))
SWEEPS = sorted((REPO / "experiments" / "sweeps").glob("*.yaml"))
SCRIPTS = sorted((REPO / "experiments").glob("*.py"))
#: Images per split and per batch: one training step (fmnist_qontot.yaml, 4 auxiliary qubits and
#: 16 layers, takes about 1 s per step at this batch on one CPU thread, 6 s at its own 100).
BATCH = 16


@pytest.fixture
def data_root(eureka_root, write_medmnist, ir_data):
    """MNIST + Fashion-MNIST IDX stand-ins (``eureka_root``), every MedMNIST flag's npz and
    IR-spectra parquet chunks (enough rows for 16 per split of a 5-fold split)."""
    for flag, n_classes in MEDMNIST_CLASSES.items():
        write_medmnist(eureka_root, flag, n_classes)
    ir_data.make_root(eureka_root, n_chunks=2, rows=125, name="multimodal_spectroscopic_dataset")
    return eureka_root


def train_one_step(config_file: Path, data_root: Path, run_dir: Path) -> dict:
    """``qdsformer train`` (or ``distill``) of ``config_file`` for one step; its summary."""
    raw = yaml.safe_load(config_file.read_text())
    command = "distill" if "teacher" in raw else "train"
    load = load_distill_config if command == "distill" else load_config
    overrides = [f"data.root={data_root}", f"data.batch_size={BATCH}",
                 *(f"data.{split}_limit={BATCH}" for split in ("train", "val", "test")),
                 "optim.epochs=1", "run.device=cpu"]
    config = load(config_file)
    if config.optim.warmup_epochs:
        overrides.append("optim.warmup_epochs=0")
    if config.attention.kwargs.get("strategy") == "mixed":  # disjoint fit + check batches
        overrides += [f"mixed.batch_size={BATCH // 2}", f"mixed.check_size={BATCH // 2}"]
    if command == "distill":
        overrides.append("teacher.epochs=1")
    args = [command, "--config", str(config_file), "--run-dir", str(run_dir), "--no-progress"]
    for override in overrides:
        args += ["--set", override]
    assert main(args) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] and summary["epochs"] == 1 and summary["n_train"] == BATCH
    assert 0.0 <= summary["test_acc"] <= 1.0
    return summary


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_each_shipped_config_validates_and_trains_one_step(path, data_root, tmp_path):
    raw = yaml.safe_load(path.read_text())
    config = (load_distill_config if "teacher" in raw else load_config)(path)
    validate_config(config, tmp_path / "as_shipped", check_device=False)  # untouched: no override
    assert not (tmp_path / "as_shipped").exists()
    summary = train_one_step(path, data_root, tmp_path / "run")
    assert summary["dataset"] == config.data.name and summary["attention"] == config.attention.name


def _first_cell(path: Path):
    return expand(load_sweep(path), check_device=False)[0]


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_one_cell_of_each_shipped_sweep_trains_one_step(path, data_root, tmp_path):
    cell = _first_cell(path)
    resolved = tmp_path / "cell.yaml"
    resolved.write_text(yaml.safe_dump(to_dict(cell.config), sort_keys=False))
    summary = train_one_step(resolved, data_root, tmp_path / "run")
    assert summary["attention"] == cell.config.attention.name
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["attention"] == to_dict(cell.config)["attention"]  # the cell's own operator


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_each_script_runs_in_quick_mode(path, data_root, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    argv = [str(path), "--quick", "--out", str(out)]
    if path.name == "kd_fmnist.py":
        argv += ["--data-root", str(data_root)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(path), run_name="__main__")
    assert done.value.code == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and all(p.stat().st_size > 0 for p in written)
