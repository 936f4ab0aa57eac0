"""``qdsformer sweep``: expansion and naming, bad input, skip, resume, lock, failure isolation."""

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qdsformer.apps.sweep import cell_status, expand, load_sweep
from qdsformer.apps.sweep.local import train_command, worker_env
from qdsformer.cli import main
from qdsformer.train.config import load_config, save_config
from qdsformer.train.engine import fit
from qdsformer.train.lock import RunFolderBusy, RunFolderLock

TINY = "{optim.epochs: 2, data.train_limit: 120, data.val_limit: 60, data.test_limit: 60}"


def write_sweep(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).replace("OUT", str(tmp_path / "out")))
    return path


def test_expansion_names_order_and_resolved_configs(tmp_path):
    path = write_sweep(tmp_path, """\
        name: grid
        out_dir: OUT
        seeds: [0, 3]
        seed_keys: [attention.kwargs.seed]
        set: {optim.epochs: 4}
        variants:
          soft: {attention.name: softmax}
          quantum: {attention.name: qontot, attention.kwargs: {n_layers: 2, seed: 9}}
        grid:
          model.depth: [1, 2]
        """)
    cells = expand(load_sweep(path))
    assert [c.label for c in cells] == [
        "grid/soft-depth1/seed0", "grid/soft-depth1/seed3", "grid/soft-depth2/seed0",
        "grid/soft-depth2/seed3", "grid/quantum-depth1/seed0", "grid/quantum-depth1/seed3",
        "grid/quantum-depth2/seed0", "grid/quantum-depth2/seed3"]
    assert cells[0].run_dir == tmp_path / "out" / "grid" / "soft-depth1" / "seed0"
    soft, quantum = cells[1].config, cells[7].config
    assert soft.run.seed == 3 and soft.model.depth == 1 and soft.optim.epochs == 4
    # naming a backend drops the default backend's kwargs; seed_keys only where the key exists
    assert soft.attention.name == "softmax" and soft.attention.kwargs == {}
    assert quantum.attention.kwargs == {"n_layers": 2, "seed": 3}
    assert quantum.experiment == "grid" and quantum.model.depth == 2
    # the child trains the resolved config itself: --config of that file, no --set
    argv = train_command(cells[7])
    assert "--set" not in argv
    assert argv[argv.index("--config") + 1] == str(cells[7].run_dir / "config.yaml")
    save_config(quantum, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == quantum  # a resolved file resolves to itself


@pytest.mark.parametrize("body, match", [
    ("name: x\ngrid: {model.no_such_key: [1]}\n", r"model\.no_such_key"),
    ("name: x\ngrid: {optim.epochs: [two]}\n", r"optim\.epochs expects int"),
    ("name: x\nvariants: {a: {attention.name: softmax}}\ngrid: {optim.lr: [1, 2]}\nextra: 1\n",
     "unknown key.*extra"),
    ("name: x\nseeds: [0, 0]\n", "distinct"),
    ("name: x\ngrid: {model.depth: 2}\n", "must list its values"),
    ("name: x\nset: {optim.epochs: 2\n", r"s\.yaml line 3, column 1: invalid YAML"),
])
def test_bad_sweep_files_fail_before_any_cell_with_the_key_or_line(tmp_path, body, match):
    path = tmp_path / "s.yaml"
    path.write_text(body)
    with pytest.raises(ValueError, match=match):
        expand(load_sweep(path))
    assert not (tmp_path / "results").exists()


def test_cli_error_is_one_line(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ngrid: {model.no_such_key: [1]}\n")
    assert main(["sweep", str(path)]) == 2
    assert "model.no_such_key" in capsys.readouterr().err


def _metrics(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_run_skip_resume_and_failure_isolation(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""\
        name: iso
        out_dir: OUT
        seeds: [0]
        set: {TINY}
        variants:
          good: {{attention.name: softmax}}
          partial: {{attention.name: qr}}
          broken: {{model.preset: qdsformer_fmnist, data.name: mnist,
                    data.root: {tmp_path / "no_data"}}}
        """)
    spec = load_sweep(path)
    good, partial, broken = expand(spec)
    # a cell killed after its first epoch: a checkpoint and one metrics row, no summary
    fit(partial.config, run_dir=partial.run_dir, stop_after_epochs=1)
    first_epoch = _metrics(partial.run_dir)[0]
    assert cell_status(partial) == "partial"

    assert main(["sweep", str(path), "--jobs", "2"]) == 1  # one cell failed
    out = capsys.readouterr().out
    assert "sweep: 1 failed, 2 finished" in out
    assert f"log: {broken.run_dir / 'train.log'}" in out
    assert "no_data" in (broken.run_dir / "train.log").read_text()  # the cause is logged
    assert cell_status(good) == cell_status(partial) == "finished"
    rows = _metrics(partial.run_dir)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert rows[0] == first_epoch  # the finished epoch was not redone
    assert "--resume" in (partial.run_dir / "train.log").read_text()

    summary_mtime = (good.run_dir / "summary.json").stat().st_mtime_ns
    assert main(["sweep", str(path), "--only", "good", "--only", "partial"]) == 0
    assert "2 skipped" in capsys.readouterr().out
    assert (good.run_dir / "summary.json").stat().st_mtime_ns == summary_mtime


def test_two_sweep_processes_run_each_cell_once(tmp_path):
    path = write_sweep(tmp_path, f"""\
        name: race
        out_dir: OUT
        seeds: [0, 1]
        set: {TINY}
        variants:
          a: {{attention.name: softmax}}
          b: {{attention.name: sinkhorn}}
        """)
    argv = [sys.executable, "-m", "qdsformer", "sweep", str(path)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    cells = expand(load_sweep(path))
    assert all(cell_status(c) == "finished" for c in cells), outputs
    for cell in cells:
        log = (cell.run_dir / "train.log").read_text()
        assert log.count("epoch 1/2") == 1, (cell.label, log)  # trained exactly once
    ran = sum(o.count(": finished") for o in outputs)
    assert ran == len(cells), outputs


def test_run_folder_has_one_owner(tmp_path):
    with RunFolderLock(tmp_path / "run"):
        with pytest.raises(RunFolderBusy, match="in use by another process"):
            RunFolderLock(tmp_path / "run").acquire()
        config = load_config(None, ["optim.epochs=1", "data.train_limit=32", "run.progress=false"])
        with pytest.raises(RunFolderBusy):
            fit(config, run_dir=tmp_path / "run")
    RunFolderLock(tmp_path / "run").acquire().release()  # free again once released


def test_dry_run_lists_cells_and_measured_cost(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""\
        name: dry
        out_dir: OUT
        seeds: [0, 1]
        set: {TINY}
        """)
    first = expand(load_sweep(path))[0]
    fit(first.config, run_dir=first.run_dir)
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry/base/seed0" in out and "finished" in out
    assert "dry/base/seed1" in out and "2 epochs left" in out and "unmeasured" not in out
    assert not expand(load_sweep(path))[1].run_dir.exists()
    assert json.loads((first.run_dir / "summary.json").read_text())["finished"]


def test_submitit_local_executor_runs_a_two_cell_sweep(tmp_path, capsys):
    pytest.importorskip("submitit")
    path = write_sweep(tmp_path, f"""\
        name: jobs
        out_dir: OUT
        seeds: [0]
        set: {TINY}
        variants:
          a: {{attention.name: softmax}}
          b: {{attention.name: qr}}
        """)
    assert main(["sweep", str(path), "--launcher", "submitit", "--cluster", "local",
                 "--slurm", "timeout_min=20"]) == 0
    assert "sweep: 2 finished" in capsys.readouterr().out
    cells = expand(load_sweep(path))
    assert all(cell_status(c) == "finished" for c in cells)
    assert (tmp_path / "out" / "jobs" / ".submitit").is_dir()
    assert main(["sweep", str(path), "--launcher", "submitit", "--cluster", "local"]) == 0
    assert "sweep: 2 skipped" in capsys.readouterr().out


def test_dry_run_estimate_times_unmeasured_cells(tmp_path, capsys):
    path = write_sweep(tmp_path, f"""\
        name: est
        out_dir: OUT
        seeds: [0, 1]
        set: {TINY}
        """)
    assert main(["sweep", str(path), "--dry-run", "--estimate"]) == 0
    out = capsys.readouterr().out
    assert out.count("(timed steps)") == 2 and "unmeasured" not in out
    assert not (tmp_path / "out").exists()  # nothing written


def test_worker_threads_share_the_cores_unless_set():
    # two cores, one job: 2 threads by default; --threads 1 keeps one per worker (a shared
    # machine); a CUDA worker sees its own device
    assert worker_env(0, 1, 0, cores=2)["OMP_NUM_THREADS"] == "2"
    assert worker_env(1, 2, 0, cores=2)["OMP_NUM_THREADS"] == "1"
    env = worker_env(1, 1, 2, cores=2, threads=1)
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"], env["CUDA_VISIBLE_DEVICES"]) == ("1", "1", "1")
    with pytest.raises(ValueError, match="--threads must be an integer >= 1, got 0"):
        worker_env(0, 1, 0, threads=0)
