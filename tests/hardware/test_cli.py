"""``qdsformer circuits run / sweep / export``: files written, fields present, clean errors."""

import csv
import json
from pathlib import Path

import pytest

from qdsformer.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = str(ROOT / "circuits" / "dsm4_small.yaml")


def test_run_writes_json_and_heatmap(tmp_path, capsys):
    code = main(["circuits", "run", SMALL, "--runner", "aer", "--shots", "3000",
                 "--seed", "4", "--out", str(tmp_path)])
    assert code == 0
    path = tmp_path / "dsm4_small__aer__3000.json"
    record = json.loads(path.read_text())
    assert record["backend"] == "aer" and record["shots"] == 3000 and record["seed"] == 4
    for key in ("exact", "estimate", "mitigated"):
        assert len(record[key]) == 4 and all(len(row) == 4 for row in record[key])
    assert record["frobenius_mitigated"] <= record["frobenius_raw"] + 1e-9
    assert -1.0 <= record["spearman_raw"] <= 1.0
    png = path.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Frobenius to exact P" in capsys.readouterr().out


def test_sweep_writes_csv_json_and_plot(tmp_path):
    code = main(["circuits", "sweep", SMALL, "--runner", "aer", "--shots", "200", "5000",
                 "--out", str(tmp_path)])
    assert code == 0
    stem = tmp_path / "dsm4_small__aer__sweep"
    with stem.with_suffix(".csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["shots"]) for r in rows] == [200, 5000]
    assert float(rows[1]["frobenius_raw"]) < float(rows[0]["frobenius_raw"])
    assert len(json.loads(stem.with_suffix(".json").read_text())) == 2
    assert stem.with_suffix(".png").stat().st_size > 0


def test_export_writes_openqasm3_that_round_trips(tmp_path):
    from qiskit import qasm3
    from qiskit.quantum_info import Statevector

    code = main(["circuits", "export", SMALL, "--out", str(tmp_path),
                 "--runner", "aer-noisy:fake_nairobi"])
    assert code == 0
    text = (tmp_path / "dsm4_small.qasm").read_text()
    assert text.startswith("OPENQASM 3")
    assert "qubit[3] sys;" in text and "qubit[3] pur;" in text and "bit[4] c;" in text
    assert (tmp_path / "dsm4_small.fake_nairobi.qasm").read_text().startswith("OPENQASM 3")
    loaded = qasm3.loads(text)  # needs qiskit-qasm3-import (a dev dependency)
    from qdsformer.hardware import bell_readout_circuit, load_spec, spec_angles, spec_ansatz

    spec = load_spec(SMALL)
    original = bell_readout_circuit(spec_ansatz(spec), spec_angles(spec), n_data_qubits=2,
                                    layout=spec.layout)
    a = Statevector(original.remove_final_measurements(inplace=False))
    b = Statevector(loaded.remove_final_measurements(inplace=False))
    assert a.equiv(b)


def test_grad_writes_json_with_gradients_and_reference(tmp_path, capsys):
    code = main(["circuits", "grad", SMALL, "--runner", "statevector", "--out", str(tmp_path)])
    assert code == 0
    record = json.loads((tmp_path / "dsm4_small__statevector__exact__grad.json").read_text())
    assert record["backend"] == "statevector" and record["shots"] is None
    assert record["n_circuits"] == 2 * record["n_gates"] + 1 == 33
    assert len(record["d_theta"]) == record["n_params"] == 16
    assert len(record["d_scores"]) == 4 and len(record["d_scores"][0][0]) == 4
    assert record["max_abs_error_theta"] < 1e-9 and record["max_abs_error_scores"] < 1e-9
    assert record["stderr_theta"] is None and record["seconds"] > 0
    assert "dP/dtheta vs autograd" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["run", SMALL, "--runner", "warp-drive"], "unknown backend"),
    (["run", SMALL, "--runner", "aer", "--shots", "0"], "shots must be an integer >= 1"),
    (["run", "circuits/missing.yaml"], "does not exist"),
    (["export", SMALL, "--runner", "aer"], "export --runner takes aer-noisy"),
    (["grad", SMALL, "--runner", "warp-drive"], "unknown backend"),
    (["grad", SMALL, "--runner", "aer", "--shots", "-5"], "shots must be an integer >= 1"),
])
def test_bad_input_is_a_clean_error(argv, message, capsys, tmp_path):
    code = main(["circuits", *argv, "--out", str(tmp_path)])
    assert code == 2
    assert message in capsys.readouterr().err
