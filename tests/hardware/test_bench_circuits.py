"""The circuits benchmark runs end to end and writes its records (no timing asserts)."""

import json
from pathlib import Path

from qdsformer.cli import main

SMALL = str(Path(__file__).resolve().parents[2] / "circuits" / "dsm4_small.yaml")


def test_circuits_bench_writes_records(tmp_path, capsys):
    out = tmp_path / "circuits.json"
    assert main(["bench", "circuits", "--specs", SMALL, "--circuits", "2", "--shots", "50",
                 "--runners", "statevector", "aer", "aer-noisy:fake_manila", "--repeats", "1",
                 "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    # fake_manila has 5 qubits < 6 needed: skipped, not failed
    assert {r["impl"] for r in records} == {"exact", "statevector", "aer"}
    assert all(r["case"] == "dsm4_small_N2_q6" and r["median_s"] > 0 for r in records)
    assert "time / exact" in capsys.readouterr().out
