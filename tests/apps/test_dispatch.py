"""The command tables: every row names a module inside qdsformer.apps with add_arguments and run,
so the import-linter contract sees each command; --help imports no command module."""

import importlib
import subprocess
import sys

from qdsformer.apps.bench.cli import SUITES
from qdsformer.apps.cli import COMMANDS


def test_every_command_and_suite_is_an_apps_module_with_both_functions():
    for table in (COMMANDS, SUITES):
        for name in table.names():
            command = table.get(name)
            assert command.module.startswith("qdsformer.apps."), (name, command.module)
            module = importlib.import_module(command.module)
            assert callable(module.run), name
            assert callable(getattr(module, "add_arguments", None)), name
            assert command.help


def test_top_level_help_imports_no_command_module():
    code = ("import sys\n"
            "from qdsformer.apps.cli import build_parser\n"
            "build_parser([]).format_help()\n"
            "heavy = [m for m in sys.modules if m.startswith(('timm', 'qiskit', 'pennylane',"
            " 'qdsformer.train', 'qdsformer.models'))]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command(capsys):
    from qdsformer.apps.cli import main

    assert main([]) == 2
    text = capsys.readouterr().out
    for name in COMMANDS.names():
        assert name in text


def test_version_prints_the_package_version_and_loads_nothing_heavy():
    code = ("import sys\n"
            "from qdsformer.apps.cli import main\n"
            "try:\n"
            "    main(['--version'])\n"
            "except SystemExit as stop:\n"
            "    assert stop.code == 0, stop.code\n"
            "heavy = [m for m in sys.modules if m.startswith(('timm', 'qiskit', 'pennylane',"
            " 'torch', 'qdsformer.train', 'qdsformer.models'))]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import qdsformer

    assert out.stdout.splitlines() == [f"qdsformer {qdsformer.__version__}", "[]"]
