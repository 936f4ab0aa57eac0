"""The simulator benchmark runs end to end on tiny sizes: all three frameworks agree on W."""

import json

import pytest

from qdsformer.cli import main


def test_simulator_bench_writes_agreeing_records(tmp_path, capsys):
    out = tmp_path / "simulator.json"
    assert main(["bench", "simulator", "--qubits", "3", "--layers", "2", "--matrices", "6",
                 "--subset", "2", "--aer-subset", "3", "--repeats", "1", "--memory-layers",
                 "1", "4", "--memory-qubits", "5", "--memory-matrices", "2", "--no-train-step",
                 "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    timed = {r["impl"]: r for r in records if r["case"] == "q3_L2_N6"}
    assert set(timed) == {"ours", "ours_fwd", "pennylane", "aer"}
    assert timed["pennylane"]["timed_matrices"] == 2 and timed["pennylane"]["scaled_by"] == 3
    assert timed["aer"]["timed_matrices"] == 3 and timed["aer"]["scaled_by"] == 2
    for name in ("pennylane", "aer"):  # identical circuits and angles: the same |V|^2
        assert timed[name]["max_abs_diff_to_ours"] < 1e-5
    memory = {(r["impl"], r["n_layers"]): r["saved_bytes"] for r in records
              if r["case"].startswith("memory")}
    assert memory[("naive_autograd", 4)] > 2 * memory[("naive_autograd", 1)]
    assert memory[("ours", 4)] <= 1.3 * memory[("ours", 1)]
    assert "(target >= 50x)" in capsys.readouterr().out


def test_bad_sizes_are_a_clean_error(tmp_path, capsys):
    assert main(["bench", "simulator", "--subset", "0", "--json", str(tmp_path / "x.json")]) == 2
    assert "--subset must be >= 1, got 0" in capsys.readouterr().err


def test_unknown_framework_is_rejected():
    with pytest.raises(SystemExit):
        main(["bench", "simulator", "--frameworks", "cirq"])
