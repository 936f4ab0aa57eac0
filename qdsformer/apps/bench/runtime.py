"""Run time of a training config: a few timed steps x steps per epoch x epochs.

``qdsformer bench runtime --config experiments/configs/fmnist_qontot.yaml [--set k=v]``
times ``--steps`` training steps of the config's model at its batch size on its device
(:func:`qdsformer.train.runtime.estimate_run_seconds`), prints the extrapolated wall time
of the whole run and writes it as JSON. Only the training steps are counted (no evaluation,
data loading or checkpoints).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qdsformer.apps.bench.harness import environment, limit_threads
from qdsformer.train.config import load_config
from qdsformer.train.runtime import estimate_run_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (see experiments/configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. run.device=cuda")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the estimate here")


def run(args: argparse.Namespace) -> int:
    limit_threads(args.threads)
    config = load_config(args.config, args.overrides)
    estimate = estimate_run_seconds(config, n_steps=args.steps)
    print(f"{config.experiment} ({estimate['attention']}, batch {estimate['batch_size']}, "
          f"{estimate['device']}, {estimate['threads']} thread(s)): "
          f"{estimate['seconds_per_step']:.3f} s/step x {estimate['steps_per_epoch']} steps x "
          f"{estimate['epochs']} epochs = {estimate['total_seconds']:.0f} s "
          f"({estimate['total_hours']:.2f} h), training steps only")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(estimate | {"config": args.config,
                                               "overrides": args.overrides,
                                               "environment": environment()}, indent=2))
        print(f"wrote {path}")
    return 0
