"""``qdsformer train``: train a ViT with a chosen attention normaliser.

With no arguments it trains the embedded default (a QDSFormer-style ViT on the 8x8 digits that
ship with scikit-learn) in a minute or two on a CPU, then prints the test accuracy and the
run folder. ``--config FILE`` loads a YAML config (experiments/configs/), ``--set a.b=c``
overrides single keys, ``--resume RUN_DIR`` continues a killed run from its last finished epoch.
"""

from __future__ import annotations

import argparse
import os

from qdsformer.apps.shared import add_run_arguments, print_test_result, run_training
from qdsformer.train import fit, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    summary = run_training(args, load_config, fit, "train")
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return 0
    if summary is not None:
        print_test_result(summary, summary["attention"])
    return 0
