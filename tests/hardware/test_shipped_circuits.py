"""Every shipped circuit spec (``circuits/*.yaml``, found by glob) runs on the exact backends.

``exact`` is the package's own simulator; ``statevector`` runs the exported Qiskit circuit
(Bell-pair readout included) on Qiskit's statevector, an independent implementation: its
attention matrix must equal the simulator's to round-off, and both must be doubly stochastic.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from qdsformer.cli import main

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted((REPO / "circuits").glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
@pytest.mark.parametrize("backend", ["exact", "statevector"])
def test_each_shipped_spec_runs_on_the_exact_backends(spec, backend, tmp_path, capsys):
    assert main(["circuits", "run", str(spec), "--runner", backend, "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    name = yaml.safe_load(spec.read_text())["name"]
    (record_path,) = tmp_path.glob(f"{name}__{backend}__exact.json")
    record = json.loads(record_path.read_text())
    exact, estimate = np.array(record["exact"]), np.array(record["estimate"])
    n = record["n_tokens"]
    assert exact.shape == estimate.shape == (n, n) and (exact >= 0).all()
    np.testing.assert_allclose(exact.sum(0), np.ones(n), atol=1e-9)  # doubly stochastic
    np.testing.assert_allclose(exact.sum(1), np.ones(n), atol=1e-9)
    np.testing.assert_allclose(estimate, exact, atol=1e-9)  # no shots: no estimation error
    assert record["shots"] is None and (tmp_path / record_path.name).with_suffix(".png").stat(
    ).st_size > 0
