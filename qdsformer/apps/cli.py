"""The ``qdsformer`` command line: one entry point, one module per subcommand.

Each command module (all in :mod:`qdsformer.apps`) exposes ``add_arguments(parser)`` and
``run(args) -> int``; add a row to :data:`COMMANDS` to register a new one. The table holds
module *names*, and only the module of the command being run is imported, so ``qdsformer
--help`` and ``qdsformer list`` never load timm, Qiskit or the training loop. A test checks
that every row names a module inside ``qdsformer.apps`` with both functions, so the
import-linter contract (pyproject.toml) covers each command's imports.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from qdsformer import __version__
from qdsformer.apps.errors import EXPECTED_ERRORS, one_line
from qdsformer.common.registry import Registry
from qdsformer.common.trust import trusted_checkpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that implements it and its one-line help.

    ``replaced_by`` marks an old name kept for one release: the command runs as the new one,
    after a logged warning naming it.
    """

    module: str
    help: str
    replaced_by: str | None = None

    def load(self):
        """Import the command's module (``add_arguments`` and ``run``)."""
        return importlib.import_module(self.module)


COMMANDS: Registry[Command] = Registry("command", {
    "train": Command("qdsformer.apps.train", "train a ViT with a chosen attention normaliser"),
    "list": Command("qdsformer.apps.listing",
                    "list attention normalisers, model presets, datasets, ansaetze, divergences"),
    "bench": Command("qdsformer.apps.bench.cli", "side-by-side benchmarks written as JSON"),
    "distill": Command("qdsformer.apps.distill", "distil a teacher ViT into a student (KD, SinKD)"),
    "circuits": Command("qdsformer.apps.circuits",
                        "run QontOT circuits on Aer / fake IBM / IBM backends; export QASM"),
    "evaluate": Command("qdsformer.apps.evaluate",
                        "evaluate a qontot ViT with attention estimated on circuit backends"),
    "analyze": Command("qdsformer.apps.analyze",
                       "compare attention normalisers: soundness, diversity"),
    "sweep": Command("qdsformer.apps.sweep.cli",
                     "run a grid of training runs (resumable, parallel, SLURM via submitit)"),
    "report": Command("qdsformer.apps.report.cli",
                      "aggregate run folders over seeds; the paper's tables beside"),
})


def add_subcommands(sub, commands: Registry[Command], argv: Sequence[str], dest: str) -> None:
    """Add one subparser per command; only the one named in ``argv`` is imported and filled.

    Args:
        sub: the ``add_subparsers`` object.
        commands: the command table (names -> :class:`Command`).
        argv: the remaining command line; its first word that names a command is the chosen one.
        dest: the attribute under which the chosen module's ``run`` is stored.
    """
    chosen = next((word for word in argv if word in commands), None)
    for name in commands.names():
        command = commands.get(name)
        if name != chosen:
            sub.add_parser(name, help=command.help)
            continue
        module = command.load()
        parser = sub.add_parser(name, help=command.help, description=module.__doc__)
        rest = list(argv)[list(argv).index(name) + 1:]
        if hasattr(module, "add_arguments_for"):  # commands with their own lazy subcommands
            module.add_arguments_for(parser, rest)
        else:
            module.add_arguments(parser)
        parser.set_defaults(**{dest: _warning_first(name, command.replaced_by, module.run)
                               if command.replaced_by else module.run})


def _warning_first(old: str, new: str, run):
    """``run``, after logging that the command name ``old`` is deprecated for ``new``."""
    def warned(args: argparse.Namespace) -> int:
        log.warning("the name %r is deprecated; use %r (the same command)", old, new)
        return run(args)
    return warned


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with the arguments of the command named in ``argv`` (if any) filled in."""
    parser = argparse.ArgumentParser(
        prog="qdsformer",
        description="Doubly stochastic attention, classical and quantum, in small ViTs.",
    )
    parser.add_argument("--version", action="version", version=f"qdsformer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="load legacy checkpoints with the full unpickler (it can run code "
                             "the file names: only for files you trust)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_subcommands(sub, COMMANDS, argv, "_run")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with contextlib.ExitStack() as stack:
            if args.trust_checkpoint:
                stack.enter_context(trusted_checkpoints())
            return int(args._run(args) or 0)
    except EXPECTED_ERRORS as err:  # bad input or a damaged file: one clear line, no traceback
        if args.debug:
            raise
        print(f"qdsformer {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qdsformer {args.command}: interrupted", file=sys.stderr)
        return 130

if __name__ == "__main__":
    raise SystemExit(main())
