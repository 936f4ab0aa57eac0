"""Distil a teacher ViT into a student ViT through the package's one training loop.

A distillation run is a training run (:func:`qdsformer.train.engine.fit`) whose loss is
:class:`qdsformer.kd.losses.DistillationLoss` against a frozen teacher; it has the same config,
results and resume conventions as ``qdsformer train``. The run folder
``<run.out_dir>/<experiment>/<run name>/`` holds the student's ``config.yaml`` (with the
``teacher`` and ``distill`` sections), ``metrics.csv``, ``checkpoint.pt``, ``summary.json``
and, when the teacher is trained here, the teacher's own run folder ``teacher/``.

The teacher is either loaded (``teacher.checkpoint``: a run folder or checkpoint file) or
trained first on the same data and optimiser settings with its own model, attention and epoch
count. Resuming continues whichever phase was interrupted.

This module is part of the application layer :mod:`qdsformer.train` (it drives the training
loop); the losses in :mod:`qdsformer.kd` are a library and do not import it.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from qdsformer.kd import DistillationLoss
from qdsformer.models import CHECKPOINT_NAME, load_run
from qdsformer.train.config import (
    AttentionConfig,
    Config,
    ModelConfig,
    load_config,
    save_config,
    to_dict,
)
from qdsformer.train.engine import (
    build_loaders,
    check_stop_after_epochs,
    default_run_dir,
    evaluate,
    fit,
    remove_folder_if_only,
    resolve_device,
)
from qdsformer.train.lock import LOCK_NAME
from qdsformer.train.validate import nearest_existing, validate_config

log = logging.getLogger(__name__)

TEACHER_DIR = "teacher"


@dataclass
class TeacherConfig:
    """Where the teacher comes from.

    Attributes:
        checkpoint: run folder or checkpoint file of a trained teacher; None trains one first
            into ``<run dir>/teacher/``.
        model: the teacher's ViT when it is trained here.
        attention: the teacher's attention when it is trained here (default softmax).
        epochs: the teacher's epochs when trained here (None: ``optim.epochs``).
    """

    checkpoint: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    attention: AttentionConfig = field(
        default_factory=lambda: AttentionConfig(name="softmax", kwargs={}))
    epochs: int | None = None


@dataclass
class DistillConfig(Config):
    """A training config plus the teacher and the distillation loss.

    ``model``/``attention`` describe the student; ``distill`` holds the loss weights
    ce_weight * CE + kd_weight * KD + sinkd_weight * SinKD and their settings
    (:class:`DistillationLoss`).
    """

    experiment: str = "distill"
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillationLoss = field(
        default_factory=lambda: DistillationLoss(ce_weight=0.5, kd_weight=0.5))


def load_distill_config(path=None, overrides=()) -> DistillConfig:
    """Defaults < YAML file < ``--set`` overrides, as for ``train``; unknown keys are errors."""
    return load_config(path, overrides, cls=DistillConfig)


def teacher_train_config(config: DistillConfig) -> Config:
    """The plain training config of a teacher trained for ``config``: same data, optimiser
    (epochs from ``teacher.epochs``) and run settings, the teacher's model and attention."""
    t = config.teacher
    optim = dataclasses.replace(config.optim, epochs=t.epochs or config.optim.epochs)
    return Config(experiment=config.experiment, model=dataclasses.replace(t.model),
                  attention=dataclasses.replace(t.attention), data=dataclasses.replace(config.data),
                  optim=optim, run=dataclasses.replace(config.run))


def prepare_teacher(config: DistillConfig, run_dir: Path, stop_after_epochs: int | None = None):
    """Load the teacher, or train (or resume training) it in ``run_dir/teacher``.

    Returns:
        ``(model, info)``: the frozen teacher in eval mode, and a dict for the summary; or
        ``(None, summary)`` when ``stop_after_epochs`` interrupted the teacher's training.
    """
    source = config.teacher.checkpoint
    if source is None:
        teacher_dir = run_dir / TEACHER_DIR
        if not (teacher_dir / "summary.json").exists():
            resume = (teacher_dir / CHECKPOINT_NAME).exists()
            log.info("%s the teacher in %s", "resuming" if resume else "training", teacher_dir)
            summary = fit(teacher_train_config(config), run_dir=teacher_dir, resume=resume,
                          stop_after_epochs=stop_after_epochs)
            if not summary["finished"]:
                return None, summary
        source = str(teacher_dir)
    try:
        teacher_config, teacher, state = load_run(source)
    except FileNotFoundError as err:
        raise ValueError(f"teacher.checkpoint: {err}") from err
    teacher_data = teacher_config["data"]["name"]
    if teacher_data != config.data.name:
        raise ValueError(f"the teacher in {source} was trained on {teacher_data!r} but the "
                         f"student's data.name is {config.data.name!r}")
    teacher.eval().requires_grad_(False)
    info = {"teacher_source": source, "teacher_attention": teacher_config["attention"]["name"],
            "teacher_epochs": state["epoch"]}
    return teacher, info


def make_loss_fn(teacher: torch.nn.Module, criterion: DistillationLoss):
    """``loss_fn(model, images, labels) -> (loss, logits)`` for the training loop."""

    def loss_fn(model, images, labels):
        with torch.no_grad():
            teacher_logits = teacher(images)  # (B, classes)
        student_logits = model(images)  # (B, classes)
        loss, _ = criterion(student_logits, teacher_logits, labels)
        return loss, student_logits

    return loss_fn


def distill(
    config: DistillConfig,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    stop_after_epochs: int | None = None,
) -> dict:
    """Train (or load) the teacher, then the student with the distillation loss.

    Args:
        config: the resolved :class:`DistillConfig`.
        run_dir: the run folder; default ``<out_dir>/<experiment>/<timestamp>-seed<seed>``.
        resume: continue the run in ``run_dir`` (teacher or student, whichever was cut short).
        stop_after_epochs: leave after this many epochs of the current phase (teacher training
            or student training); ``resume`` continues.

    Returns:
        The student's summary (as written to ``summary.json``), with the teacher's source,
        attention, epochs and test accuracy; ``finished`` is False when stopped early.
    """
    validate_config(config, run_dir)  # student and teacher, before the run folder is made
    check_stop_after_epochs(stop_after_epochs)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    if resume and not (run_dir / "config.yaml").exists():
        raise ValueError(f"cannot resume: no config.yaml in {run_dir}")
    created, existed = not resume and not run_dir.exists(), nearest_existing(run_dir)
    if not resume:
        if (run_dir / CHECKPOINT_NAME).exists() or (run_dir / TEACHER_DIR).exists():
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it")
    loaded = None
    if config.teacher.checkpoint is not None:  # a damaged or mismatched teacher: no folder
        loaded = prepare_teacher(config, run_dir, stop_after_epochs)
    if not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")  # so that --resume works in any phase
    try:
        return _distill_in(config, run_dir, stop_after_epochs, loaded)
    except BaseException:
        if created:  # failed before a teacher or student epoch (bad data, ...)
            remove_folder_if_only(run_dir, {"config.yaml", LOCK_NAME}, existed)
        raise


def _distill_in(config: DistillConfig, run_dir: Path, stop_after_epochs: int | None,
                loaded) -> dict:
    """The two phases of :func:`distill` in the prepared ``run_dir`` (``loaded``: the teacher
    already loaded from ``teacher.checkpoint``, or None)."""
    teacher, info = loaded or prepare_teacher(config, run_dir, stop_after_epochs)
    if teacher is None:
        return {**info, "run_dir": str(run_dir), "phase": "teacher"}
    info["teacher_test_acc"] = evaluate(teacher, build_loaders(config)["test"])["acc"]
    teacher.to(resolve_device(config.run.device))
    student_resume = (run_dir / CHECKPOINT_NAME).exists()
    summary = fit(config, loss_fn=make_loss_fn(teacher, config.distill), run_dir=run_dir,
                  resume=student_resume, stop_after_epochs=stop_after_epochs,
                  extra_summary={**info, "distill": to_dict(config.distill)})
    return {**summary, "phase": "student"}
