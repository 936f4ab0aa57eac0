"""Renamed command-line options (issue 25: "runner" for where circuits run): the new name works,
the old one still does after a logged warning naming the new one, and is not in --help."""

import logging

import pytest

from qdsformer.apps.cli import build_parser

CASES = [
    (["circuits", "run", "spec.yaml"], "--runner", "--backend", "aer", "aer"),
    (["circuits", "sweep", "spec.yaml", "--shots", "10"], "--runner", "--backend", "aer",
     ["aer"]),
    (["circuits", "grad", "spec.yaml"], "--runner", "--backend", "aer", "aer"),
    (["circuits", "export", "spec.yaml"], "--runner", "--backend", "aer-noisy:fake_nairobi",
     "aer-noisy:fake_nairobi"),
    (["evaluate", "run_dir"], "--runner", "--attention-backend", "aer", ["aer"]),
    (["bench", "circuits"], "--runners", "--backends", "aer", ["aer"]),
]


def _parse(argv):
    return build_parser(argv).parse_args(argv)


@pytest.mark.parametrize(("argv", "new", "old", "value", "parsed"), CASES,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_the_old_option_name_still_works_and_warns(caplog, argv, new, old, value, parsed):
    dest = new.lstrip("-")
    with caplog.at_level(logging.WARNING):
        assert getattr(_parse([*argv, new, value]), dest) == parsed
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert getattr(_parse([*argv, old, value]), dest) == parsed
    assert [r.getMessage() for r in caplog.records] == [
        f"{old} is deprecated; use {new} (the same option)"]


@pytest.mark.parametrize(("argv", "new", "old", "value", "parsed"), CASES[:1] + CASES[4:5])
def test_help_names_only_the_new_option(capsys, argv, new, old, value, parsed):
    with pytest.raises(SystemExit):
        _parse([*argv[:1], "--help"] if argv[0] == "evaluate" else [*argv[:2], "--help"])
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert any(line.startswith(new) for line in lines)  # an option listed under its new name
    assert not any(line.startswith(old) for line in lines)
    assert not any(f"[{old}" in line for line in lines)  # nor in the usage


def test_the_old_and_the_new_option_together_are_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(["evaluate", "run_dir", "--runner", "aer", "--attention-backend", "aer"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_evaluate_still_needs_a_runner(capsys):
    with pytest.raises(SystemExit):
        _parse(["evaluate", "run_dir"])
    assert capsys.readouterr().err.splitlines()[-1] == (
        "qdsformer evaluate: error: one of the arguments --runner is required")
