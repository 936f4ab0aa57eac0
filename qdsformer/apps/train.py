"""``qdsformer train``: train a ViT with a chosen attention normaliser.

With no arguments it trains the embedded default (a QDSFormer-style ViT on the 8x8 digits that
ship with scikit-learn) in a minute or two on a CPU, then prints the test accuracy and the
run folder. ``--config FILE`` loads a YAML config (experiments/configs/), ``--set a.b=c``
overrides single keys, ``--resume RUN_DIR`` continues a killed run from its last finished epoch.
"""

from __future__ import annotations

import argparse

from qdsformer.apps.shared import add_run_arguments, config_from_args
from qdsformer.train import fit, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config, run_dir = config_from_args(args, load_config)
    summary = fit(config, run_dir=run_dir, resume=bool(args.resume),
                  stop_after_epochs=args.stop_after_epochs)
    if not summary["finished"]:
        print(f"stopped after epoch {summary['epoch']}; continue with: "
              f"qdsformer train --resume {summary['run_dir']}")
        return 0
    print(f"{summary['attention']} on {summary['dataset']}: test accuracy "
          f"{summary['test_acc']:.4f} (val {summary['val_acc']:.4f}) in "
          f"{summary['train_seconds']:.0f}s")
    print(f"results: {summary['run_dir']}")
    return 0
