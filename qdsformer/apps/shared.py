"""Helpers shared by several commands (never a command module itself).

- training options and ``config_from_args``: ``qdsformer train`` and ``qdsformer distill``;
- circuit runner options and Qiskit log levels: ``circuits``, ``evaluate``, ``bench circuits``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from qdsformer.train.validate import validate_config


# --------------------------------------------------------------------------- option types
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--stop-after-epochs 0`` would leave nothing to resume).

    Raises:
        argparse.ArgumentTypeError: not an integer, or < 1 (argparse names the option, exit 2).
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def path_text(text: str) -> str:
    """argparse type: a file or folder name, not empty (an empty one would mean the default).

    Raises:
        argparse.ArgumentTypeError: empty, blank, or holding a NUL character.
    """
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"must be a file or folder name, got {text!r}")
    return text


# --------------------------------------------------------------------------- training runs
def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --set, --resume, --run-dir, --stop-after-epochs, --no-progress."""
    parser.add_argument("--config", type=path_text,
                        help="YAML config file (see experiments/configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. optim.lr=1e-3")
    parser.add_argument("--resume", metavar="RUN_DIR", type=path_text,
                        help="continue the run in RUN_DIR from its last finished epoch")
    parser.add_argument("--run-dir", type=path_text, help="where to write this run (default: "
                        "<run.out_dir>/<experiment>/<timestamp>-seed<seed>)")
    parser.add_argument("--stop-after-epochs", type=positive_int, default=None, metavar="N",
                        help="leave after N >= 1 epochs in this call; --resume continues later")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace, load: Callable) -> tuple[object, Path | None]:
    """The run's config and folder from the options of :func:`add_run_arguments`.

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


def run_training(args: argparse.Namespace, load: Callable, train: Callable, command: str
                 ) -> dict | None:
    """Resolve the config from ``args``, train, and return the summary of a finished run.

    ``train(config, run_dir=, resume=, stop_after_epochs=)`` is :func:`qdsformer.train.fit`
    or :func:`qdsformer.train.distill`. A run stopped by ``--stop-after-epochs`` prints how to
    continue it and returns None.
    """
    config, run_dir = config_from_args(args, load)
    validate_config(config, run_dir)  # the whole config, before a run folder exists
    summary = train(config, run_dir=run_dir, resume=bool(args.resume),
                    stop_after_epochs=args.stop_after_epochs)
    if not summary["finished"]:
        phase = f" in the {summary['phase']} phase" if "phase" in summary else ""
        print(f"stopped{phase} after epoch {summary['epoch']}; continue with: "
              f"qdsformer {command} --resume {summary['run_dir']}")
        return None
    return summary


def print_test_result(summary: dict, label: str) -> None:
    """``<label> on <dataset>: test accuracy ... (val ...) in ...s`` and the run folder."""
    print(f"{label} on {summary['dataset']}: test accuracy {summary['test_acc']:.4f} "
          f"(val {summary['val_acc']:.4f}) in {summary['train_seconds']:.0f}s")
    if "test_micro_f1" in summary:  # multi-label: accuracy is the share of correct 0/1 labels
        print(f"test micro-F1 {summary['test_micro_f1']:.4f} "
              f"(val {summary['val_micro_f1']:.4f})")
    print(f"results: {summary['run_dir']}")


# --------------------------------------------------------------------------- circuit runners
def quiet_qiskit_logs(args: argparse.Namespace) -> None:
    """Qiskit logs every transpiler pass at INFO; keep its loggers at WARNING unless -v."""
    if not getattr(args, "verbose", False):
        for name in ("qiskit", "qiskit_ibm_runtime", "qiskit_aer", "samplomatic"):
            logging.getLogger(name).setLevel(logging.WARNING)


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of :func:`qdsformer.hardware.make_runner`; None = the default."""
    parser.add_argument("--seed", type=int, default=None, help="transpiler + simulator seed")
    parser.add_argument("--optimization-level", type=int, default=None, choices=(0, 1, 2, 3))
    parser.add_argument("--dd", dest="dynamical_decoupling", action="store_true", default=None,
                        help="XY4 dynamical decoupling (runtime Sampler)")
    parser.add_argument("--twirling", action="store_true", default=None,
                        help="Pauli twirling of gates and measurements (runtime Sampler)")
    parser.add_argument("--readout-mitigation", action="store_true", default=None,
                        help="calibrate and invert readout errors (2 extra circuits)")
    parser.add_argument("--ibm-channel", default=None,
                        choices=("local", "ibm_quantum_platform", "ibm_cloud"),
                        help="account channel for ibm:<name>; 'local' = offline fake backends")


def runner_kwargs(args: argparse.Namespace) -> dict:
    """The options of :func:`add_runner_arguments` as keyword arguments of ``run_dsm``."""
    return {"seed": args.seed, "optimization_level": args.optimization_level,
            "dynamical_decoupling": args.dynamical_decoupling, "twirling": args.twirling,
            "readout_mitigation": args.readout_mitigation, "ibm_channel": args.ibm_channel}
