"""``qdsformer distill``: distil a teacher ViT into a student ViT with any attention normaliser.

Loss: ce_weight * CE + kd_weight * T^2 D(teacher || student) + sinkd_weight * SinKD
(section ``distill``).
The teacher is loaded from ``teacher.checkpoint`` (a run folder of ``qdsformer train`` or
``distill``), or trained first into ``<run dir>/teacher/`` with ``teacher.model``,
``teacher.attention`` and ``teacher.epochs``. Same conventions as ``qdsformer train``:
``--config FILE`` (experiments/configs/distill_*.yaml), ``--set a.b=c``, ``--resume RUN_DIR``.
"""

from __future__ import annotations

import argparse

from qdsformer.apps.shared import (
    add_run_arguments,
    checked_config,
    config_source,
    finished,
    print_test_result,
)
from qdsformer.train import distill, load_distill_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``qdsformer train``: --config, --set, --resume, --run-dir, ..."""
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config_file, overrides, run_dir = config_source(args)
    config = checked_config(load_distill_config(config_file, overrides), args, run_dir)
    summary = distill(config, run_dir=run_dir, resume=bool(args.resume),
                      stop_after_epochs=args.stop_after_epochs)
    if finished(summary, "distill"):
        print(f"teacher ({summary['teacher_attention']}): test accuracy "
              f"{summary['teacher_test_acc']:.4f}")
        print_test_result(summary, f"student ({summary['attention']})")
    return 0
