"""Helpers shared by several commands (never a command module itself).

- training options, ``config_source``, ``checked_config`` and ``finished``: ``qdsformer train``
  and ``qdsformer distill``;
- circuit runner options and Qiskit log levels: ``circuits``, ``evaluate``, ``bench circuits``;
- ``add_renamed_option``: an option under its new name, the old one still accepted (warning).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from qdsformer.train.validate import validate_config

log = logging.getLogger(__name__)

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


def config_source(args: argparse.Namespace) -> tuple[Path | None, list[str], Path | None]:
    """``(config file, overrides, run folder)`` from the options of :func:`add_run_arguments`.

    With ``--resume`` the file is the run folder's saved ``config.yaml``, with no overrides,
    and no other config option is allowed.

    Raises:
        ValueError: ``--resume`` with ``--config``/``--set``/``--run-dir``, or a resumed folder
            without ``config.yaml``.
    """
    if args.resume:
        if args.config or args.overrides or args.run_dir:
            raise ValueError("--resume takes the saved config; drop --config/--set/--run-dir")
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").exists():
            raise ValueError(f"cannot resume: no config.yaml in {run_dir}")
        return run_dir / "config.yaml", [], run_dir
    return args.config, args.overrides, Path(args.run_dir) if args.run_dir else None


def checked_config(config, args: argparse.Namespace, run_dir: Path | None):
    """``config`` with ``--no-progress`` applied, checked whole before a run folder exists."""
    if args.no_progress:
        config.run.progress = False
    validate_config(config, run_dir)
    return config


def finished(summary: dict, command: str) -> bool:
    """Whether the run finished; a run stopped by ``--stop-after-epochs`` prints how to go on."""
    if summary["finished"]:
        return True
    phase = f" in the {summary['phase']} phase" if "phase" in summary else ""
    print(f"stopped{phase} after epoch {summary['epoch']}; continue with: "
          f"qdsformer {command} --resume {summary['run_dir']}")
    return False


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


def add_renamed_option(parser: argparse.ArgumentParser, new: str, old: str, *,
                       required: bool = False, **kwargs) -> None:
    """Option ``new``, with its former name ``old`` still accepted for one release.

    ``old`` stores into the same attribute after a logged warning naming ``new``, and is left
    out of ``--help``. ``required``: one of the two must be given (argparse's own error).
    ``kwargs`` (``nargs``, ``default``, ``help``, ...) are those of ``new``.
    """
    dest = new.lstrip("-").replace("-", "_")
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(new, dest=dest, **kwargs)
    group.add_argument(old, dest=dest, nargs=kwargs.get("nargs"), type=kwargs.get("type"),
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                       action=_renamed_to(new))


def _renamed_to(new: str) -> type[argparse.Action]:
    class Renamed(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            log.warning("%s is deprecated; use %s (the same option)", option_string, new)
            setattr(namespace, self.dest, values)
    return Renamed


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
