"""``qdsformer train``: train a ViT with a chosen attention normaliser.

With no arguments it trains the embedded default (a QDSFormer-style ViT on the 8x8 digits that
ship with scikit-learn) in a minute or two on a CPU, then prints the test accuracy and the
run folder. ``--config FILE`` loads a YAML config (experiments/configs/), ``--set a.b=c``
overrides single keys, ``--resume RUN_DIR`` continues a killed run from its last finished epoch.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (see experiments/configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. optim.lr=1e-3")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its last finished epoch")
    parser.add_argument("--run-dir", help="where to write this run (default: "
                        "<run.out_dir>/<experiment>/<timestamp>-seed<seed>)")
    parser.add_argument("--stop-after-epochs", type=int, default=None,
                        help="leave after N epochs in this call; --resume continues later")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace, load) -> tuple[object, Path | None]:
    """The run's config and folder from the options above; shared by ``train`` and ``distill``.

    ``load(path, overrides)`` reads a config file; with ``--resume`` it reads the run folder's
    saved ``config.yaml`` and no other config option is allowed.
    """
    if args.resume:
        if args.config or args.overrides or args.run_dir:
            raise ValueError("--resume takes the saved config; drop --config/--set/--run-dir")
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").exists():
            raise ValueError(f"cannot resume: no config.yaml in {run_dir}")
        config = load(run_dir / "config.yaml", ())
    else:
        config = load(args.config, args.overrides)
        run_dir = Path(args.run_dir) if args.run_dir else None
    if args.no_progress:
        config.run.progress = False
    return config, run_dir


def run(args: argparse.Namespace) -> int:
    from qdsformer.train.config import load_config
    from qdsformer.train.engine import fit

    config, run_dir = config_from_args(args, load_config)
    summary = fit(config, run_dir=run_dir, resume=bool(args.resume),
                  stop_after_epochs=args.stop_after_epochs)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return 0
    if not summary["finished"]:
        print(f"stopped after epoch {summary['epoch']}; continue with: "
              f"qdsformer train --resume {summary['run_dir']}")
        return 0
    print(f"{summary['attention']} on {summary['dataset']}: test accuracy "
          f"{summary['test_acc']:.4f} (val {summary['val_acc']:.4f}) in "
          f"{summary['train_seconds']:.0f}s")
    print(f"results: {summary['run_dir']}")
    return 0
