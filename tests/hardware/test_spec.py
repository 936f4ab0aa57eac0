"""Circuit specs: the shipped YAML files load; bad specs and backends give clear errors."""

from pathlib import Path

import pytest
import torch

from qdsformer.hardware import (
    check_qubit_budget,
    load_spec,
    parse_backend,
    spec_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_specs_load_with_the_documented_sizes():
    paper = load_spec(ROOT / "circuits" / "dsm8_hardware.yaml")
    assert (paper.n_tokens, paper.n_data_qubits, paper.n_aux_qubits) == (8, 3, 4)
    assert paper.n_layers == 1 and paper.n_circuit_qubits == 14 and paper.qubit_budget == 14
    small = load_spec(ROOT / "circuits" / "dsm4_small.yaml")
    assert (small.n_tokens, small.n_circuit_qubits) == (4, 6)
    assert small.scores.shape == (4, 4)


def test_seeded_scores_and_theta_are_reproducible_and_explicit_values_are_kept():
    a = spec_from_dict({"name": "a", "circuit": {"n_tokens": 4}, "scores": {"seed": 5}})
    b = spec_from_dict({"name": "b", "circuit": {"n_tokens": 4}, "scores": {"seed": 5}})
    assert torch.equal(a.scores, b.scores)
    assert torch.equal(a.theta_vector(12), b.theta_vector(12))
    theta = a.theta_vector(1000)
    assert float(theta.min()) >= -1.0 and float(theta.max()) <= 1.0
    values = [[0.0, 1.0], [2.0, 3.0]]
    c = spec_from_dict({"name": "c", "circuit": {"n_tokens": 2, "n_aux_qubits": 1},
                        "scores": {"values": values}, "theta": {"values": [0.5] * 4}})
    assert c.scores.tolist() == values
    assert c.theta_vector(4).tolist() == [0.5] * 4
    with pytest.raises(ValueError, match="theta has 4 values but"):
        c.theta_vector(8)


@pytest.mark.parametrize("data,match", [
    ({"name": "x", "circuit": {"n_tokens": 16, "n_aux_qubits": 4}, "qubit_budget": 14},
     r"T = 16 needs .* 16 qubits .* qubit_budget allows 14"),
    ({"name": "x", "circuit": {"n_tokens": 1}}, r"n_tokens must be an integer >= 2"),
    ({"name": "x", "circuit": {"n_tokens": 4, "layout": "diagonal"}}, "layout must be one of"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "run": {"shots": 0}}, "shots must be"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "run": {"shots": -10}}, "shots must be"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "run": {"backend": "qpu"}}, "unknown backend"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "run": {"optimization_level": 7}},
     "optimization_level"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "run": {"shotz": 3}}, r"unknown key.*shotz"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "extra": 1}, r"unknown key.*extra"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "scores": {"values": [[1.0]]}},
     "must be a 4x4 matrix"),
    ({"name": "x", "circuit": {"n_tokens": 4}, "theta": {"low": 1.0, "high": 0.0}},
     "theta.low must be < theta.high"),
    ({"name": "has space", "circuit": {"n_tokens": 4}}, "name must be"),
    ({"circuit": {"n_tokens": 4}}, "name must be"),
    ({"name": "x"}, "n_tokens .* is required"),
])
def test_bad_specs_raise_value_error_naming_the_problem(data, match):
    with pytest.raises(ValueError, match=match):
        spec_from_dict(data)


def test_missing_spec_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


def test_device_qubit_budget():
    spec = spec_from_dict({"name": "x", "circuit": {"n_tokens": 4, "n_aux_qubits": 1}})
    check_qubit_budget(spec, 6, "six")  # fits exactly
    with pytest.raises(ValueError, match="6 qubits with Bell pairs, but backend five allows 5"):
        check_qubit_budget(spec, 5, "five")


@pytest.mark.parametrize("text,kind,name", [
    ("exact", "exact", None), ("statevector", "statevector", None), ("aer", "aer", None),
    ("aer-noisy:fake_nairobi", "aer-noisy", "fake_nairobi"), ("ibm:ibm_torino", "ibm", "ibm_torino"),
])
def test_parse_backend(text, kind, name):
    choice = parse_backend(text)
    assert (choice.kind, choice.name, str(choice)) == (kind, name, text)


@pytest.mark.parametrize("text,match", [
    ("gpu", "unknown backend"), ("aer-noisy", "needs a name"), ("ibm:", "needs a name"),
    ("aer:fake_lagos", "takes no"), ("", "non-empty"),
])
def test_parse_backend_errors(text, match):
    with pytest.raises(ValueError, match=match):
        parse_backend(text)
