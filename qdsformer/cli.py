"""The ``qdsformer`` command line: one entry point, one module per subcommand.

Each subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``; add a row
to ``COMMANDS`` to register a new one. Modules are imported when the parser is built, so they
keep heavy imports (Qiskit, PennyLane) inside their ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("qdsformer.train.cli", "train a ViT with a chosen attention normaliser"),
    "list": ("qdsformer.listing", "list attention normalisers, model presets and datasets"),
    "bench": ("qdsformer.bench.cli", "side-by-side benchmarks written as JSON"),
    "distill": ("qdsformer.kd.cli", "distil a teacher ViT into a student (KD, SinKD)"),
    "circuits": ("qdsformer.quantum.hardware.cli",
                 "run QontOT circuits on Aer / fake IBM / IBM backends; export QASM"),
    "evaluate": ("qdsformer.quantum.hardware.evaluate",
                 "evaluate a qontot ViT with attention estimated on circuit backends"),
    "analyze": ("qdsformer.analysis.cli", "compare attention normalisers: soundness, diversity"),
    "sweep": ("qdsformer.apps.sweep.cli", "run a grid of training runs (resumable, parallel)"),
    "report": ("qdsformer.apps.report.cli", "aggregate run folders over seeds; paper tables beside"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qdsformer",
        description="Doubly stochastic attention, classical and quantum, in small ViTs.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError) as err:  # bad input: one clear line, no traceback
        print(f"qdsformer {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
