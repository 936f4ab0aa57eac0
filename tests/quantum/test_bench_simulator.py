"""The simulator benchmark runs end to end on tiny sizes: all three frameworks agree on W."""

import json

import pytest

from qdsformer.cli import main


def test_simulator_bench_writes_agreeing_records(tmp_path, capsys):
    out = tmp_path / "simulator.json"
    assert main(["bench", "simulator", "--qubits", "3", "--layers", "2", "--matrices", "6",
                 "--subset", "2", "--aer-subset", "3", "--repeats", "1", "--memory-layers",
                 "1", "4", "--memory-qubits", "5", "--memory-matrices", "2", "--no-train-step",
                 "--lightning-subset", "2", "--json", str(out), "--note", "tried: x"]) == 0
    records = json.loads(out.read_text())
    meta = json.loads(out.with_suffix(".meta.json").read_text())
    assert meta["note"] == "tried: x" and meta["fuse_max_width"] >= 2
    assert records[0]["impl"] == "complex64_matmul" and records[0]["gflops"] > 0
    timed = {r["impl"]: r for r in records if r["case"] == "q3_L2_N6"}
    assert set(timed) == {"ours", "ours_fwd", "pennylane", "aer", "lightning", "lightning_fwd"}
    for name in ("ours", "ours_fwd"):  # flops of the applied products, rate, share of the peak
        rec = timed[name]
        assert rec["gflops"] == pytest.approx(rec["flops"] / rec["median_s"] / 1e9)
        assert rec["fraction_of_peak"] == pytest.approx(rec["gflops"] / records[0]["gflops"])
    assert timed["lightning_fwd"]["max_abs_diff_to_ours"] < 1e-10  # float64 both sides
    assert timed["lightning"]["max_abs_grad_diff_to_ours"] < 1e-10
    assert timed["lightning"]["scaled_by"] == 3
    assert timed["pennylane"]["timed_matrices"] == 2 and timed["pennylane"]["scaled_by"] == 3
    assert timed["aer"]["timed_matrices"] == 3 and timed["aer"]["scaled_by"] == 2
    for name in ("pennylane", "aer"):  # identical circuits and angles: the same |V|^2
        assert timed[name]["max_abs_diff_to_ours"] < 1e-5
    memory = {(r["impl"], r["n_layers"]): r["saved_bytes"] for r in records
              if r["case"].startswith("memory")}
    assert memory[("naive_autograd", 4)] > 2 * memory[("naive_autograd", 1)]
    assert memory[("ours", 4)] <= 1.3 * memory[("ours", 1)]
    printed = capsys.readouterr().out
    assert "(target >= 35x)" in printed and "GFLOP/s" in printed and "lightning / ours" in printed


def test_bad_sizes_are_a_clean_error(tmp_path, capsys):
    assert main(["bench", "simulator", "--subset", "0", "--json", str(tmp_path / "x.json")]) == 2
    assert "--subset must be >= 1, got 0" in capsys.readouterr().err


def test_unknown_framework_is_rejected():
    with pytest.raises(SystemExit):
        main(["bench", "simulator", "--frameworks", "cirq"])


def test_cpu_clock_is_recorded_and_times_our_simulator(tmp_path):
    out = tmp_path / "cpu.json"
    assert main(["bench", "simulator", "--qubits", "3", "--layers", "1", "--matrices", "4",
                 "--frameworks", "ours", "--repeats", "1", "--memory-layers", "--no-train-step",
                 "--clock", "cpu", "--json", str(out)]) == 0
    meta = json.loads(out.with_name("cpu.meta.json").read_text())
    assert meta["clock"] == "cpu"
    timed = {r["impl"]: r for r in json.loads(out.read_text())}
    assert timed["ours"]["median_s"] > 0 and timed["ours_fwd"]["median_s"] > 0


def test_train_step_records_both_circuits_against_softmax(tmp_path, capsys):
    """The training-step case times softmax and QontOT at both circuit sizes in one run and
    prints each ratio beside issue 23's target."""
    out = tmp_path / "step.json"
    assert main(["bench", "simulator", "--qubits", "3", "--layers", "1", "--matrices", "2",
                 "--frameworks", "ours", "--repeats", "1", "--memory-layers", "--train-step",
                 "--json", str(out)]) == 0
    steps = {r["impl"]: r for r in json.loads(out.read_text())
             if r["case"] == "train_step_fmnist_B100_depth2"}
    assert set(steps) == {"softmax", "qontot_a2_L8", "qontot_a4_L16"}
    assert steps["qontot_a2_L8"]["attention_kwargs"] == {"n_aux_qubits": 2, "n_layers": 8}
    assert all(r["median_s"] > 0 for r in steps.values())
    printed = capsys.readouterr().out
    assert "train step qontot_a2_L8 / softmax = " in printed and "(target <= 2.5)" in printed
    assert "(target <= 25.0)" in printed


def test_train_step_compile_times_each_case_compiled_beside_eager(tmp_path, capsys, monkeypatch):
    """--compile adds a <case>_compiled record per training-step case, stepped through
    compile_model (run.compile's function), with its compiling step's time, and prints each
    compiled step against compiled softmax and against its own eager step."""
    import qdsformer.apps.bench.simulator as bench

    compiled = []

    def fake_compile(model, device):
        compiled.append(device)
        return model

    monkeypatch.setattr(bench, "compile_model", fake_compile)
    out = tmp_path / "step.json"
    assert main(["bench", "simulator", "--qubits", "3", "--layers", "1", "--matrices", "2",
                 "--frameworks", "ours", "--repeats", "1", "--memory-layers", "--train-step",
                 "--compile", "--json", str(out)]) == 0
    steps = {r["impl"]: r for r in json.loads(out.read_text())
             if r["case"] == "train_step_fmnist_B100_depth2"}
    assert set(steps) == {"softmax", "qontot_a2_L8", "qontot_a4_L16", "softmax_compiled",
                          "qontot_a2_L8_compiled", "qontot_a4_L16_compiled"}
    assert len(compiled) == 3
    assert all(steps[k]["compile_seconds"] > 0 for k in steps if k.endswith("_compiled"))
    assert "compile_seconds" not in steps["softmax"]
    printed = capsys.readouterr().out
    assert "train step qontot_a2_L8_compiled: " in printed and "x its eager step" in printed


def test_compile_without_the_training_step_is_refused(tmp_path, capsys):
    assert main(["bench", "simulator", "--qubits", "3", "--layers", "1", "--matrices", "2",
                 "--frameworks", "ours", "--repeats", "1", "--memory-layers", "--no-train-step",
                 "--compile", "--json", str(tmp_path / "x.json")]) == 2
    assert "--compile times the training step" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
