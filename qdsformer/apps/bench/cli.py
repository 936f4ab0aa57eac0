"""``qdsformer bench SUITE``: run one benchmark suite, print ratios, write JSON.

Suites time alternatives side by side in one run; see each suite's ``--help``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from qdsformer.apps.cli import Command, add_subcommands
from qdsformer.common.registry import Registry

SUITES: Registry[Command] = Registry("benchmark suite", {
    "attention": Command("qdsformer.apps.bench.attention",
                         "attention normalisers: forward+backward time against softmax"),
    "ot": Command("qdsformer.apps.bench.ot", "the Sinkhorn kernel against POT and GeomLoss"),
    "simulator": Command("qdsformer.apps.bench.simulator",
                         "our circuit simulator against PennyLane and Qiskit Aer"),
    "circuits": Command("qdsformer.apps.bench.circuits",
                        "circuit runners against the exact torch simulator"),
    "runtime": Command("qdsformer.apps.bench.runtime",
                       "a run's wall time from a few timed training steps"),
    "estimate": Command("qdsformer.apps.bench.runtime", "deprecated name of 'runtime'",
                        replaced_by="runtime"),
})


def add_arguments_for(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """One subparser per suite; only the suite named in ``argv`` is imported."""
    sub = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    add_subcommands(sub, SUITES, argv, "_suite_run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every suite's options (imports all suites; the dispatcher uses :func:`add_arguments_for`)."""
    add_arguments_for(parser, [])


def run(args: argparse.Namespace) -> int:
    return args._suite_run(args)
