"""``qdsformer bench SUITE``: run one benchmark suite, print ratios, write JSON.

Suites time alternatives side by side in one run; see each suite's ``--help``.
"""

from __future__ import annotations

import argparse
import importlib

# suite name -> module exposing add_arguments(parser) and run(args) -> int
SUITES: dict[str, str] = {
    "attention": "qdsformer.bench.attention",
    "ot": "qdsformer.bench.ot",
    "simulator": "qdsformer.bench.simulator",
    "circuits": "qdsformer.bench.circuits",
    "estimate": "qdsformer.bench.estimate",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name, module_name in SUITES.items():
        module = importlib.import_module(module_name)
        suite = sub.add_parser(name, help=(module.__doc__ or "").splitlines()[0],
                               description=module.__doc__)
        module.add_arguments(suite)
        suite.set_defaults(_suite_run=module.run)


def run(args: argparse.Namespace) -> int:
    return args._suite_run(args)
