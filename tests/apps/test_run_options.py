"""The options of ``qdsformer train`` and ``qdsformer distill``: bad values are one line, exit 2.

--stop-after-epochs must be a positive integer (0 used to exit 0 and print a ``--resume``
command that then failed); the file and folder options must not be empty (an empty --run-dir
used to mean the default folder). Nothing is written for a refused command.
"""

import argparse

import pytest

from qdsformer.apps.shared import path_text, positive_int
from qdsformer.cli import main
from qdsformer.train import distill, fit, load_config, load_distill_config

COMMANDS = ["train", "distill"]


def _refused(capsys, tmp_path, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert not (tmp_path / "out").exists()
    return capsys.readouterr().err.strip().splitlines()[-1]  # argparse: usage, then the error


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", "nan", "inf", ""])
@pytest.mark.parametrize("command", COMMANDS)
def test_stop_after_epochs_must_be_a_positive_integer(tmp_path, capsys, command, value):
    line = _refused(capsys, tmp_path, [command, "--stop-after-epochs", value,
                                       "--run-dir", str(tmp_path / "out" / "r")])
    assert line == (f"qdsformer {command}: error: argument --stop-after-epochs: must be an "
                    f"integer >= 1, got {value!r}")


@pytest.mark.parametrize("option", ["--config", "--resume", "--run-dir"])
@pytest.mark.parametrize("value", ["", "   ", "a\0b"])
@pytest.mark.parametrize("command", COMMANDS)
def test_file_and_folder_options_must_name_something(tmp_path, capsys, command, option, value):
    line = _refused(capsys, tmp_path, [command, option, value])
    assert line == (f"qdsformer {command}: error: argument {option}: must be a file or folder "
                    f"name, got {value!r}")


def test_the_option_types_accept_good_values():
    assert positive_int("3") == 3 and positive_int("10000000000") == 10**10
    assert path_text("runs/a") == "runs/a"
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be an integer >= 1, got '0'$"):
        positive_int("0")


@pytest.mark.parametrize("value", [0, -2, True, 1.5, "1"])
def test_the_python_api_refuses_a_bad_stop_after_epochs(tmp_path, value):
    message = rf"^stop_after_epochs must be None or an int >= 1, got {value!r}$"
    with pytest.raises(ValueError, match=message):
        fit(load_config(None, []), run_dir=tmp_path / "out" / "a", stop_after_epochs=value)
    with pytest.raises(ValueError, match=message):
        distill(load_distill_config(None, []), run_dir=tmp_path / "out" / "b",
                stop_after_epochs=value)
    assert not (tmp_path / "out").exists()


def test_fit_and_distill_take_keywords_after_the_config(tmp_path):
    # a positional run folder would be read as loss_fn (fit) or silently misplaced
    with pytest.raises(TypeError, match="positional argument"):
        fit(load_config(None, []), None, tmp_path / "a")
    with pytest.raises(TypeError, match="positional argument"):
        distill(load_distill_config(None, []), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []
