"""``qdsformer train``: train a ViT with a chosen attention normaliser.

With no arguments it trains the embedded default (a QDSFormer-style ViT on the 8x8 digits that
ship with scikit-learn) in a minute or two on a CPU, then prints the test accuracy and the
run folder. ``--config FILE`` loads a YAML config (experiments/configs/), ``--set a.b=c``
overrides single keys, ``--resume RUN_DIR`` continues a killed run from its last finished epoch.
"""

from __future__ import annotations

import argparse
import os

from qdsformer.apps.shared import (
    add_run_arguments,
    checked_config,
    config_source,
    finished,
    print_test_result,
)
from qdsformer.train import fit, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config_file, overrides, run_dir = config_source(args)
    config = checked_config(load_config(config_file, overrides), args, run_dir)
    summary = fit(config, run_dir=run_dir, resume=bool(args.resume),
                  stop_after_epochs=args.stop_after_epochs)
    done = finished(summary, "train")
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return 0
    if done:
        print_test_result(summary, summary["attention"])
    return 0
