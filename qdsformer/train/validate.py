"""Check a resolved training config whole, before anything is loaded or written.

:func:`validate_config` is called by :func:`qdsformer.train.fit`, by
:func:`qdsformer.train.distill`, by ``qdsformer train`` / ``qdsformer distill`` before they
start, and by the sweep for every cell when it expands the sweep file, so a bad value fails
before a run folder exists (and before any cell of a sweep runs), with every problem in one
message rather than a timm assertion or a NaN several minutes in.

Checked: the model preset against the dataset's image size and channels, the attention head
count against the embedding width, the model itself (built on the CPU from ``model`` and
``attention`` and run on one blank image, so every normaliser, ansatz and noise keyword and
value is checked by the code that uses it: a typo such as ``n_layer`` or ``shots: -5`` inside
``attention.kwargs`` fails here), the optimiser's numbers (finite, in range) and its schedule
(milestones, warm-up), batch size and subset limits, the fold of a cross-validated data set
(``data.fold``, ``data.n_folds``), the Eureka modes (``data.redraw``, ``data.eureka_val``),
``run.log`` and ``run.compile``, the ``mixed`` section when QontOT's strategy is ``mixed``, a
distillation teacher's checkpoint, that ``run.device`` exists on this machine, and that the
output folder can be written (without creating it: the nearest existing ancestor must be a
writable folder). No data is read.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path

import torch

from qdsformer.attention import NORMALIZERS
from qdsformer.data.datasets import (
    CROSS_VALIDATED,
    EUREKA_VAL_SOURCES,
    dataset_image_shape,
    dataset_num_classes,
)
from qdsformer.models import CHECKPOINT_NAME
from qdsformer.models.vit import PRESETS, build_vit
from qdsformer.train.device import resolve_device
from qdsformer.train.mixed import validate_mixed_settings
from qdsformer.train.schedules import warmup_cosine_lr
from qdsformer.train.tensorboard import run_log_problems

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("multistep", "cosine", "none")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_at_least(problems: list[str], key: str, value, low: float, strict: bool) -> None:
    ok = _number(value) and math.isfinite(value) and (value > low if strict else value >= low)
    if not ok:
        relation = ">" if strict else ">="
        problems.append(f"{key} must be a finite number {relation} {low:g}, got {value!r}")


def _int_at_least(problems: list[str], key: str, value, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        problems.append(f"{key} must be an integer >= {low}, got {value!r}")


def _check_model(problems: list[str], where: str, model, attention, data_name: str) -> None:
    """Preset vs dataset image shape, heads vs width, attention name; then the model built."""
    before = len(problems)
    try:
        preset = asdict(PRESETS.get(model.preset))
    except ValueError as err:
        problems.append(f"{where}.preset: {err}")
        return
    for key in ("depth", "embed_dim", "num_heads", "num_classes"):
        value = getattr(model, key, None)
        _int_at_least(problems, f"{where}.{key}", value, 1, optional=True)
        if value is not None:
            preset[key] = value
    if model.mlp_ratio is not None:
        _finite_at_least(problems, f"{where}.mlp_ratio", model.mlp_ratio, 0.0, strict=True)
    width, heads = preset["embed_dim"], preset["num_heads"]
    if isinstance(width, int) and isinstance(heads, int) and heads >= 1 and width % heads:
        problems.append(f"{where}.num_heads {heads} does not divide the embedding width "
                        f"{width} ({where}.embed_dim); pick a divisor of {width}")
    try:
        shape = dataset_image_shape(data_name)
    except ValueError as err:
        problems.append(f"data.name: {err}")
        shape = None
    if shape is not None:
        channels, height, width_px = shape
        wanted = (preset["in_chans"], preset["img_size"][0],
                  preset.get("input_width") or preset["img_size"][1])
        if (channels, height, width_px) != tuple(wanted):
            problems.append(
                f"{where}.preset {model.preset!r} takes {wanted[1]}x{wanted[2]} images with "
                f"{wanted[0]} channel(s), but dataset {data_name!r} has {height}x{width_px} "
                f"images with {channels} channel(s); pick a preset for {data_name} "
                f"(presets: {', '.join(PRESETS.names())})")
    attention_key = where.replace("model", "attention")
    if attention.name not in NORMALIZERS:
        problems.append(f"{attention_key}.name: unknown attention "
                        f"normaliser {attention.name!r}; known: {', '.join(NORMALIZERS.names())}")
    elif not isinstance(attention.kwargs, dict):
        problems.append(f"{attention_key}.kwargs must be a mapping, got {attention.kwargs!r}")
    elif len(problems) == before and shape is not None:
        _check_build(problems, attention_key, model, attention, data_name, shape)


def _check_build(problems: list[str], attention_key: str, model, attention, data_name: str,
                 shape: tuple[int, int, int]) -> None:
    """Build the ViT on the CPU and run it on one blank image (the global RNG is kept).

    The normaliser, its ansatz and noise settings are checked by the code that uses them, so
    an unknown keyword or a bad value in ``attention.kwargs`` is found before any folder.
    """
    spec = {"model": {**asdict(model), "num_classes": model.num_classes
                      or dataset_num_classes(data_name)},
            "attention": {"name": attention.name, "kwargs": attention.kwargs}}
    key = repr((attention_key, spec, shape))  # a sweep's seeds and grid values share one build
    if key not in _BUILT:
        _BUILT[key] = None
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                vit = build_vit(spec).eval()
                vit(torch.zeros(1, *shape, device="cpu"))  # (1, C, H, W) -> (1, classes)
        except (ValueError, TypeError, RuntimeError) as err:
            _BUILT[key] = f"{attention_key}.kwargs: {' '.join(str(err).split())}"
        if len(_BUILT) > 512:
            _BUILT.pop(next(iter(_BUILT)))
    if _BUILT[key] is not None:
        problems.append(_BUILT[key])


#: Outcome of :func:`_check_build` per model spec (None: it builds and runs).
_BUILT: dict[str, str | None] = {}


def _check_folds(problems: list[str], data) -> None:
    """``data.fold`` in 0 .. n_folds - 1, ``data.n_folds`` >= 2; a fold only where it applies."""
    n_folds, fold = getattr(data, "n_folds", 5), getattr(data, "fold", 0)
    before = len(problems)
    _int_at_least(problems, "data.n_folds", n_folds, 2)
    if len(problems) > before:  # the fold's range is unknown: one message, about n_folds
        return
    if not (isinstance(fold, int) and not isinstance(fold, bool) and fold >= 0
            and fold < n_folds):
        problems.append(f"data.fold must be an integer in 0..{n_folds - 1}, got {fold!r}")
    elif fold and data.name not in CROSS_VALIDATED:
        problems.append(f"data.fold {fold} applies only to cross-validated data sets "
                        f"({', '.join(sorted(CROSS_VALIDATED))}), not {data.name!r}")


def _check_eureka_modes(problems: list[str], data) -> None:
    """``data.redraw`` a boolean, ``data.eureka_val`` holdout or test; either only for eureka."""
    redraw, val = getattr(data, "redraw", False), getattr(data, "eureka_val", "holdout")
    if not isinstance(redraw, bool):
        problems.append(f"data.redraw must be true or false, got {redraw!r}")
    elif redraw and data.name != "eureka":
        problems.append(f"data.redraw applies only to the eureka data set, not {data.name!r}")
    if val not in EUREKA_VAL_SOURCES:
        problems.append(f"data.eureka_val must be one of {', '.join(EUREKA_VAL_SOURCES)}, "
                        f"got {val!r}")
    elif val != "holdout" and data.name != "eureka":
        problems.append(f"data.eureka_val {val} applies only to the eureka data set, not "
                        f"{data.name!r}")


def _check_optim(problems: list[str], o) -> None:
    before = len(problems)
    if o.name not in OPTIMIZERS:
        problems.append(f"optim.name {o.name!r} is unknown; expected one of {', '.join(OPTIMIZERS)}")
    _finite_at_least(problems, "optim.lr", o.lr, 0.0, strict=True)
    _finite_at_least(problems, "optim.weight_decay", o.weight_decay, 0.0, strict=False)
    _int_at_least(problems, "optim.epochs", o.epochs, 1)
    if o.schedule not in SCHEDULES:
        problems.append(f"optim.schedule {o.schedule!r} is unknown; expected one of "
                        f"{', '.join(SCHEDULES)}")
    _finite_at_least(problems, "optim.gamma", o.gamma, 0.0, strict=True)
    if o.grad_clip is not None:
        _finite_at_least(problems, "optim.grad_clip", o.grad_clip, 0.0, strict=True)
    _int_at_least(problems, "optim.warmup_epochs", o.warmup_epochs, 0)
    _finite_at_least(problems, "optim.warmup_lr", o.warmup_lr, 0.0, strict=False)
    _finite_at_least(problems, "optim.min_lr", o.min_lr, 0.0, strict=False)
    if o.schedule == "multistep" and not (
            isinstance(o.milestones, list)
            and all(isinstance(m, int) and not isinstance(m, bool) and m >= 1
                    for m in o.milestones)
            and o.milestones == sorted(o.milestones)):
        problems.append(f"optim.milestones must be a rising list of epochs >= 1, "
                        f"got {o.milestones!r}")
    if o.warmup_epochs and o.schedule != "cosine":
        problems.append(f"optim.warmup_epochs needs schedule cosine, got {o.schedule!r}")
    elif o.schedule == "cosine" and (o.warmup_epochs or o.min_lr) and len(problems) == before:
        try:  # the schedule's own checks (warm-up shorter than the run, ...)
            warmup_cosine_lr(0, lr=o.lr, epochs=o.epochs, warmup_epochs=o.warmup_epochs,
                             warmup_lr=o.warmup_lr, min_lr=o.min_lr)
        except ValueError as err:
            problems.append(f"optim (cosine schedule): {err}")


def _check_teacher_checkpoint(problems: list[str], source: str) -> None:
    """``teacher.checkpoint`` names a checkpoint file or a run folder holding one."""
    path = Path(source)
    file = path / CHECKPOINT_NAME if path.is_dir() else path
    if not file.is_file():
        problems.append(f"teacher.checkpoint: no checkpoint at {file}")


def nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (the current folder for a relative path)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(problems: list[str], folder: Path, option: str = "run.out_dir or --run-dir"
                    ) -> None:
    """``folder`` can be made (or is) a writable folder, judged without creating anything."""
    existing = nearest_existing(folder)
    if not existing.is_dir():
        problems.append(f"output folder {folder}: {existing} exists and is not a folder")
    elif not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == Path(os.path.abspath(folder)) else \
            f"cannot be created: {existing} is not writable"
        problems.append(f"output folder {folder} {what} ({option})")


def check_output_folder(folder: str | Path, option: str) -> None:
    """ValueError unless ``folder`` is, or can be made, a writable folder (nothing is made)."""
    problems: list[str] = []
    _check_writable(problems, Path(folder), option)
    if problems:
        raise ValueError(problems[0])


def validate_config(config, run_dir: str | Path | None = None, *, check_device: bool = True
                    ) -> None:
    """Check a resolved :class:`~qdsformer.train.config.Config` (or DistillConfig) whole.

    Pure apart from reading: nothing is created or written. A distillation config's teacher
    is checked too when it is trained here (no ``teacher.checkpoint``).

    Args:
        config: the resolved config.
        run_dir: the run folder that will be written; default
            ``<run.out_dir>/<experiment>``, the parent of the default run folder.
        check_device: check that ``run.device`` exists here; False when the run will run on
            another machine (a sweep submitted to a cluster).

    Raises:
        ValueError: one message listing every problem found, each naming its config key.
    """
    problems: list[str] = []
    data = config.data
    _check_model(problems, "model", config.model, config.attention, data.name)
    teacher = getattr(config, "teacher", None)
    if teacher is not None and teacher.checkpoint is None:
        _check_model(problems, "teacher.model", teacher.model, teacher.attention, data.name)
        _int_at_least(problems, "teacher.epochs", teacher.epochs, 1, optional=True)
    elif teacher is not None:
        _check_teacher_checkpoint(problems, teacher.checkpoint)
    _check_optim(problems, config.optim)
    kwargs = config.attention.kwargs
    if isinstance(kwargs, dict) and kwargs.get("strategy") == "mixed":
        try:
            validate_mixed_settings(config.mixed)
        except ValueError as err:
            problems.append(str(err))
    _int_at_least(problems, "data.batch_size", data.batch_size, 1)
    for key in ("train_limit", "val_limit", "test_limit"):
        _int_at_least(problems, f"data.{key}", getattr(data, key), 1, optional=True)
    _check_folds(problems, data)
    _check_eureka_modes(problems, data)
    problems.extend(run_log_problems(config.run.log))
    if not isinstance(config.run.compile, bool):
        problems.append(f"run.compile must be true or false, got {config.run.compile!r}")
    if check_device:
        try:
            resolve_device(config.run.device)
        except ValueError as err:
            problems.append(str(err))
    folder = Path(run_dir) if run_dir is not None else \
        Path(config.run.out_dir) / str(config.experiment)
    _check_writable(problems, folder)
    if problems:
        raise ValueError("invalid config: " + "; ".join(problems))
