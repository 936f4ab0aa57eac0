"""Circuit-spec values and shot counts: one ValueError (exit 2 on the CLI) naming key and value,
and a memory estimate before any sampler allocates; nothing written on refusal."""

from pathlib import Path

import pytest
import yaml

from qdsformer.cli import main
from qdsformer.hardware import check_shots
from qdsformer.hardware.spec import MAX_SHOTS, spec_from_dict

ROOT = Path(__file__).resolve().parents[2]
SMALL = str(ROOT / "circuits" / "dsm4_small.yaml")
HUGE = 100_000_000_000
HUGE_MESSAGE = ("shots=100000000000 would need at least 745 GiB of memory for the samples "
                "(8 bytes per shot); the bound is 100,000,000 shots per circuit")


def _spec(**sections):
    return dict(name="t", circuit=dict(n_tokens=2, n_aux_qubits=1, n_layers=1), **sections)


@pytest.mark.parametrize(("sections", "message"), [
    (dict(scores=dict(values=[[1.0, "a"], [0.0, 1.0]])),
     "scores.values[0][1] must be a finite number, got 'a'"),
    (dict(scores=dict(values="abc")), "scores.values must be a list of finite numbers, got 'abc'"),
    (dict(scores=dict(values=[[1.0, 2.0], [3.0]])),
     "scores.values must be a rectangular list of numbers, got [[1.0, 2.0], [3.0]]"),
    (dict(scores=dict(values=[[1.0, float("inf")], [0.0, 1.0]])),
     "scores.values[0][1] must be a finite number, got inf"),
    (dict(theta=dict(values=["x", 1.0])), "theta.values[0] must be a finite number, got 'x'"),
    (dict(theta=dict(values=[0.1, float("nan")])),
     "theta.values[1] must be a finite number, got nan"),
    (dict(theta=dict(values=[True])), "theta.values[0] must be a finite number, got True"),
    (dict(scores=dict(std="x")), "s.yaml: scores.std must be a finite number > 0, got 'x'"),
    (dict(theta=dict(low="a")), "s.yaml: theta.low must be a finite number, got 'a'"),
    (dict(theta=dict(high=float("inf"))), "s.yaml: theta.high must be a finite number, got inf"),
])
def test_bad_spec_value_names_key_and_value(sections, message):
    with pytest.raises(ValueError) as info:
        spec_from_dict(_spec(**sections), source="s.yaml")
    assert str(info.value) == message


def test_string_theta_in_a_spec_file_is_a_clean_cli_error(tmp_path, capsys):
    data = yaml.safe_load(Path(SMALL).read_text())
    data["theta"] = {"values": ["0.3"]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["circuits", "run", str(path), "--runner", "aer", "--out", str(out)]) == 2
    assert "theta.values[0] must be a finite number, got '0.3'" in capsys.readouterr().err
    assert not out.exists()


def test_shot_bound_gives_the_memory_estimate():
    assert check_shots(MAX_SHOTS) == MAX_SHOTS
    with pytest.raises(ValueError) as info:
        check_shots(HUGE)
    assert str(info.value) == HUGE_MESSAGE


def test_circuits_run_refuses_huge_shots_before_sampling(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["circuits", "run", SMALL, "--runner", "aer", "--shots", str(HUGE),
                 "--out", str(out)])
    assert code == 2
    assert HUGE_MESSAGE in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_refuses_huge_shots_before_loading(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["evaluate", str(tmp_path / "no_checkpoint"), "--runner", "aer",
                 "--shots", str(HUGE), "--out", str(out)])
    assert code == 2
    assert HUGE_MESSAGE in capsys.readouterr().err
    assert not out.exists()


def test_spec_too_large_to_simulate_is_one_line_before_allocating(tmp_path, capsys):
    """A T that needs more qubits than the simulator can hold (64 GiB for one unitary) is
    refused at load, with the estimate, before the T x T scores are drawn (8 TB here)."""
    with pytest.raises(ValueError) as err:
        spec_from_dict(dict(name="t", circuit=dict(n_tokens=2 ** 20, n_aux_qubits=1)), source="big")
    message = str(err.value)
    assert message.startswith("big: circuit.n_tokens = 1048576 with n_aux_qubits = 1 makes a "
                              "21-qubit circuit: simulating 1 circuit(s) of 21 qubits needs at "
                              "least 65,536.0 GiB")
    assert "\n" not in message
    spec_from_dict(dict(name="t", circuit=dict(n_tokens=2 ** 12, n_aux_qubits=4)), source="ok")  # q = 16
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(dict(name="big", circuit=dict(n_tokens=2 ** 20))))
    out = tmp_path / "out"
    assert main(["circuits", "run", str(path), "--runner", "exact", "--out", str(out)]) == 2
    assert "21-qubit circuit" in capsys.readouterr().err
    assert not out.exists()
