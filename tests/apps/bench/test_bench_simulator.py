"""``qdsformer bench simulator``: the CPU path, the GPU peers' skip reasons, the CUDA refusal."""

import json

import pytest
import torch

from qdsformer.apps.bench import simulator
from qdsformer.cli import main

TINY = ["--qubits", "3", "--layers", "1", "--matrices", "4", "--frameworks", "ours",
        "--memory-layers", "--no-train-step", "--repeats", "1"]


def test_the_cpu_path_times_ours_and_names_no_gpu_peer(tmp_path, capsys):
    out = tmp_path / "simulator.json"
    assert main(["bench", "simulator", "--device", "cpu", *TINY, "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    assert {r["impl"] for r in records} == {"complex64_matmul", "ours", "ours_fwd"}
    assert all(r["device"] == "cpu" for r in records)
    meta = json.loads(out.with_suffix(".meta.json").read_text())
    assert meta["device"] == "cpu" and meta["skipped"] == {}
    assert "skipped" not in capsys.readouterr().out


def test_on_cuda_a_missing_gpu_peer_is_skipped_with_its_reason(monkeypatch):
    monkeypatch.setattr(simulator, "lightning_unavailable", lambda name: None)
    monkeypatch.setattr(simulator, "aer_gpu_unavailable",
                        lambda: "qiskit-aer has no GPU device (devices: CPU; needs qiskit-aer-gpu)")
    assert simulator.gpu_peers("cuda") == (
        ["lightning_gpu"], {"aer_gpu": "qiskit-aer has no GPU device (devices: CPU; needs "
                                      "qiskit-aer-gpu)"})
    assert simulator.gpu_peers("cuda:0")[0] == ["lightning_gpu"]
    assert simulator.gpu_peers("cpu") == ([], {})


def test_the_peer_probes_state_why_on_this_machine():
    why = simulator.aer_gpu_unavailable()
    if torch.cuda.is_available() and why is None:
        pytest.skip("qiskit-aer-gpu works here")
    assert isinstance(why, str) and why.startswith("qiskit-aer ") and "\n" not in why
    why = simulator.lightning_unavailable("lightning.gpu")
    if not torch.cuda.is_available():
        assert why.startswith("lightning.gpu unavailable: ") and "\n" not in why


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
@pytest.mark.parametrize("device, message", [
    ("cuda", "--device 'cuda': CUDA is not available on this machine (use --device cpu)"),
    ("cuda:0", "--device 'cuda:0': CUDA is not available on this machine (use --device cpu)"),
    ("banana", "--device 'banana' is not a torch device"),
    ("", "--device '' is not a torch device"),
])
def test_without_cuda_device_cuda_is_one_line_exit_2_and_writes_nothing(device, message,
                                                                        tmp_path, capsys):
    out = tmp_path / "simulator.json"
    assert main(["bench", "simulator", "--device", device, *TINY, "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"qdsformer bench: error: {message}"
    assert captured.out == "" and list(tmp_path.iterdir()) == []
