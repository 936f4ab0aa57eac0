"""The one training loop: build, fit, evaluate, checkpoint, resume.

``fit(config)`` trains a ViT as the config says and writes, in the run folder
``<run.out_dir>/<experiment>/<run name>/``:

- ``config.yaml``: the resolved config;
- ``metrics.csv``: one row per finished epoch (with the fit- and check-batch losses of the
  gradient-free phase and whether it was taken, when QontOT's strategy is ``mixed``);
- ``checkpoint.pt``: written atomically after every epoch (model, optimiser, scheduler, RNG
  states, history), so a killed run resumes from its last finished epoch;
- ``summary.json``: final validation and test accuracy, time, sizes;
- what the data set's task adds (:mod:`qdsformer.train.tasks`): for a multi-label set
  (``ir``, ``chestmnist``; BCE-with-logits as the loss, :mod:`qdsformer.train.multilabel`)
  ``val_micro_f1`` per epoch, micro-F1 in summary.json and ``per_group_f1.csv``; for
  ``eureka`` the epoch of the Eureka moment in summary.json.

A run folder has one owner (:mod:`qdsformer.train.lock`); the config is checked whole before
the folder is made (:mod:`qdsformer.train.validate`). The checkpoint is written before
metrics.csv, so a kill between the two leaves metrics.csv one epoch behind; ``resume`` accepts
that, refuses files of different runs (:mod:`qdsformer.train.resume`), rewrites metrics.csv
from the checkpoint's history and removes temporary files of killed writes.

``run.compile: true`` steps ``torch.compile(model)`` instead (CUDA graphs on CUDA;
:mod:`qdsformer.train.compile`); the checkpoint holds the plain model either way.

Resuming restores every random state (:func:`qdsformer.train.resume.rng_state`) and the
epoch-seeded batch order, so a resumed run ends with the same weights and numbers as an
uninterrupted one. ``loss_fn(model, images, labels) -> (loss, logits)`` replaces
cross-entropy, which lets distillation reuse this loop.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from qdsformer.common.results import remove_stale_temporaries, write_csv, write_json
from qdsformer.data import BatchLoader, build_dataset
from qdsformer.data.datasets import (
    dataset_is_multilabel,
    dataset_num_classes,
    dataset_options,
)
from qdsformer.models import CHECKPOINT_NAME, build_vit, load_checkpoint, save_checkpoint
from qdsformer.train.compile import compile_model
from qdsformer.train.config import Config, save_config, to_dict
from qdsformer.train.ddp import DistributedContext, context_from_env
from qdsformer.train.device import resolve_device
from qdsformer.train.lock import LOCK_NAME, RunFolderLock
from qdsformer.train.mixed import MIXED_FIELDS, MixedPhase
from qdsformer.train.multilabel import (
    bce_loss,
    correct_decisions,
    evaluate_multilabel,
)
from qdsformer.train.optim import build_optimizer, build_scheduler
from qdsformer.train.resume import check_resume_consistency, rng_state, set_rng_state
from qdsformer.train.tasks import task_metrics
from qdsformer.train.tensorboard import MARGINAL_FIELD, TensorBoardLog, marginal_fields
from qdsformer.train.validate import nearest_existing, validate_config

log = logging.getLogger(__name__)

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
METRIC_FIELDS = ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_seconds"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(config: Config) -> torch.nn.Module:
    """The ViT described by ``config.model`` and ``config.attention``."""
    return build_vit(to_dict(config))


def build_loaders(config: Config) -> dict[str, BatchLoader]:
    """Train (shuffled, epoch-seeded), val and test loaders for ``config.data``."""
    d = config.data
    loaders = {}
    for split, limit in (("train", d.train_limit), ("val", d.val_limit), ("test", d.test_limit)):
        dataset = build_dataset(d.name, split, root=d.root, download=d.download,
                                **dataset_options(d.name, d.fold, d.n_folds,
                                                  config.run.seed if d.redraw else None,
                                                  d.eureka_val)).subset(limit)
        loaders[split] = BatchLoader(dataset, d.batch_size, shuffle=split == "train",
                                     seed=config.run.seed)
    return loaders


def cross_entropy_loss(model, images, labels):
    logits = model(images)  # (B, classes)
    return F.cross_entropy(logits, labels), logits


def default_loss(config: Config) -> LossFn:
    """The data set's task loss: BCE-with-logits when multi-label, else cross-entropy."""
    return bce_loss if dataset_is_multilabel(config.data.name) else cross_entropy_loss


@torch.no_grad()
def evaluate(model: torch.nn.Module, loader: BatchLoader, *, device=None,
             ctx: DistributedContext | None = None) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader``.

    Under data parallelism (``ctx``) each rank scores its slice of every batch and the sums are
    reduced over ranks, so every rank returns the numbers of the whole loader.
    """
    device = device or next(model.parameters()).device
    ctx = ctx or DistributedContext(device=device)
    if loader.dataset.multilabel:  # BCE, label accuracy, micro-F1 (qdsformer.train.multilabel)
        return evaluate_multilabel(model, loader, device=device, ctx=ctx)
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, device=device)  # loss sum, correct, count (float32: MPS has no float64)
    for images, labels in loader:
        images, labels = ctx.shard(images.to(device), labels.to(device))
        logits = model(images)
        totals[0] += F.cross_entropy(logits, labels, reduction="sum")
        totals[1] += (logits.argmax(-1) == labels).sum()
        totals[2] += labels.shape[0]
    ctx.sum(totals)
    model.train(was_training)
    loss, correct, count = totals.tolist()
    if count == 0:  # never an accuracy of nothing (build_dataset refuses empty splits first)
        split = getattr(loader.dataset, "split", "given")
        raise ValueError(f"cannot evaluate: the {split} split has no samples")
    return {"loss": loss / count, "acc": correct / count}


def check_stop_after_epochs(value) -> None:
    """``stop_after_epochs`` is None or an int >= 1; ValueError naming the value otherwise.

    Zero would stop before the first epoch and leave nothing to ``--resume``.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"stop_after_epochs must be None or an int >= 1, got {value!r}")


def default_run_dir(config: Config) -> Path:
    name = config.run.run_name or (
        datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S") + f"-seed{config.run.seed}"
    )
    return Path(config.run.out_dir) / config.experiment / name


def fit(
    config: Config,
    *,
    loss_fn: LossFn | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    stop_after_epochs: int | None = None,
    extra_summary: dict | None = None,
) -> dict:
    """Train per ``config``; returns the summary dict (also written to ``summary.json``).

    Args:
        config: the run's :class:`Config` (or a dataclass with the same sections).
        loss_fn: ``(model, images, labels) -> (loss, logits)``; default cross-entropy.
        run_dir: where outputs go; default ``<out_dir>/<experiment>/<timestamp>-seed<seed>``.
        resume: continue the run in ``run_dir`` from its last finished epoch.
        stop_after_epochs: leave after this many epochs in this call (time-sliced jobs); the
            run stays resumable and no summary is written until the last epoch.
        extra_summary: more fields for ``summary.json`` (e.g. the teacher of a distillation).
    """
    validate_config(config, run_dir)  # before anything exists: a bad config leaves no folder
    check_stop_after_epochs(stop_after_epochs)
    if config.model.num_classes is None:  # record the dataset's class count with the run
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, num_classes=dataset_num_classes(config.data.name)))
    ctx = context_from_env(resolve_device(config.run.device))  # one process unless torchrun
    try:
        # every rank writes to the folder rank 0 chose (a default name holds a timestamp)
        run_dir = Path(ctx.broadcast_object(
            str(run_dir if run_dir is not None else default_run_dir(config))))
        if resume and not (run_dir / CHECKPOINT_NAME).exists():
            raise ValueError(f"cannot resume: no {CHECKPOINT_NAME} in {run_dir}")
        if not ctx.is_main:  # rank 0 owns the folder and holds its lock for the run
            return _fit_locked(config, loss_fn or default_loss(config), run_dir, resume,
                               stop_after_epochs, extra_summary, ctx)
        created, existed = not run_dir.exists(), nearest_existing(run_dir)
        with RunFolderLock(run_dir):  # one owner: a second process on this folder fails here
            try:
                return _fit_locked(config, loss_fn or default_loss(config), run_dir, resume,
                                   stop_after_epochs, extra_summary, ctx)
            except BaseException:
                if created:  # failed before writing anything (data files, ...): leave no folder
                    remove_folder_if_only(run_dir, {LOCK_NAME}, existed)
                raise
    finally:
        ctx.close()


def remove_folder_if_only(run_dir: Path, names: set[str], existed: Path) -> None:
    """Remove ``run_dir`` when it holds no files but ``names`` (what this call made there).

    For a run that fails before its first epoch, in a folder it created: nothing is left,
    including the empty parent folders made for it below ``existed`` (the nearest folder that
    existed before, :func:`~qdsformer.train.validate.nearest_existing`).
    """
    try:
        if {p.name for p in run_dir.iterdir()} <= names:
            for name in names:
                (run_dir / name).unlink(missing_ok=True)
            run_dir.rmdir()
            folder, existed = Path(os.path.abspath(run_dir)).parent, Path(existed)
            while folder != existed and existed in folder.parents:
                folder.rmdir()  # OSError when not empty: someone else's, stop there
                folder = folder.parent
    except OSError:  # another process came in meanwhile, or it is gone: leave it be
        pass


def _fit_locked(config, loss_fn, run_dir: Path, resume: bool, stop_after_epochs, extra_summary,
                ctx: DistributedContext):
    ckpt_path = run_dir / CHECKPOINT_NAME
    if not resume and ckpt_path.exists():
        raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it")
    if ctx.is_main:  # we hold the lock: temporary files here are leftovers of killed writes
        for stale in remove_stale_temporaries(run_dir):
            log.info("removed %s, left by an interrupted write", stale)

    device = ctx.device
    seed_everything(config.run.seed)
    plain_model = build_model(config).to(device)
    loaders = build_loaders(config)
    optimizer = build_optimizer(config, plain_model.parameters())
    scheduler = build_scheduler(config, optimizer)
    # strategy mixed: its batch sizes are checked against the training set before the folder
    mixed = MixedPhase.from_config(config, plain_model, loaders["train"].dataset, device)
    history: list[dict] = []
    start_epoch = 0
    if resume:
        state = load_checkpoint(ckpt_path, map_location=device)
        check_resume_consistency(run_dir, config, state)
        plain_model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        history = state["history"]
        start_epoch = state["epoch"]
        log.info("resuming %s after epoch %d", run_dir, start_epoch)
    elif ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
    model = ctx.wrap(plain_model)
    if config.run.compile:  # checkpoints keep plain_model's weights: no _orig_mod. prefixes
        model = compile_model(model, device)
    task = task_metrics(config, loaders["val"].dataset.multilabel)  # Eureka, micro-F1, ...
    fields = METRIC_FIELDS + (MIXED_FIELDS if mixed is not None else []) + list(task.fields)
    board = TensorBoardLog.from_config(config, run_dir, start_epoch,  # run.log: tensorboard
                                       loaders["val"].dataset.images, device) if ctx.is_main else None
    fields += marginal_fields(config, history)
    if resume and ctx.is_main:  # metrics.csv may lag one epoch (killed between the two writes)
        write_csv(history, run_dir / "metrics.csv", fieldnames=fields)

    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("run folder %s; %d trainable parameters; device %s", run_dir, n_params, device)
    epochs_run, val_stats = 0, None
    for epoch in range(start_epoch, config.optim.epochs):
        if stop_after_epochs is not None and epochs_run >= stop_after_epochs:
            if board is not None:
                board.close()
            return {"run_dir": str(run_dir), "finished": False, "epoch": epoch}
        started = time.perf_counter()
        train_stats = _train_epoch(model, loaders["train"], optimizer, loss_fn, config, epoch,
                                   ctx)
        # strategy mixed: the gradient-free theta search (qdsformer.train.mixed)
        phase = mixed.after_epoch(epoch, loss_fn, ctx) if mixed is not None else None
        val_stats = evaluate(model, loaders["val"], device=device, ctx=ctx)
        row = {
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_stats["loss"],
            "train_acc": train_stats["acc"],
            "val_loss": val_stats["loss"],
            "val_acc": val_stats["acc"],
            "epoch_seconds": time.perf_counter() - started,
        }
        row.update(task.row(val_stats))
        if mixed is not None:
            row.update(phase.row() if phase else dict.fromkeys(MIXED_FIELDS, math.nan))
        if board is not None:
            row[MARGINAL_FIELD] = board.marginal_error(plain_model)
        scheduler.step()
        history.append(row)
        if ctx.is_main:
            save_checkpoint(
                {"config": to_dict(config), "epoch": epoch + 1,
                 "model": plain_model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "rng": rng_state(), "history": history},
                ckpt_path,
            )
            write_csv(history, run_dir / "metrics.csv", fieldnames=fields)
            if board is not None:
                board.write(row)
        log.info("epoch %d/%d train_acc %.4f val_acc %.4f (%.1fs)", epoch + 1,
                 config.optim.epochs, row["train_acc"], row["val_acc"], row["epoch_seconds"])
        epochs_run += 1
    if board is not None:
        board.close()

    test_stats = evaluate(model, loaders["test"], device=device, ctx=ctx)
    summary = {
        "experiment": config.experiment,
        "run_dir": str(run_dir),
        "finished": True,
        "epochs": config.optim.epochs,
        "attention": config.attention.name,
        "attention_kwargs": config.attention.kwargs,
        "model_preset": config.model.preset,
        "dataset": config.data.name,
        "n_train": len(loaders["train"].dataset),
        "n_test": len(loaders["test"].dataset),
        "trainable_parameters": n_params,
        "val_acc": history[-1]["val_acc"],
        "best_val_acc": max(r["val_acc"] for r in history),
        "test_acc": test_stats["acc"],
        "test_loss": test_stats["loss"],
        "train_seconds": sum(r["epoch_seconds"] for r in history),
        "device": str(device),
        "processes": ctx.world,
        **(extra_summary or {}),
    }
    summary.update(task.summary(history, test_stats))
    if ctx.is_main:
        if val_stats is not None:  # resuming a finished run keeps the files it wrote then
            task.write(run_dir, val_stats, test_stats)
        write_json(summary, run_dir / "summary.json")
    return summary


def _train_epoch(model, loader, optimizer, loss_fn, config, epoch,
                 ctx: DistributedContext) -> dict:
    """One pass over ``loader``; under data parallelism each rank trains on its batch slice."""
    device = ctx.device
    model.train()
    loader.set_epoch(epoch)
    totals = torch.zeros(3, device=device)  # loss sum, correct, count (float32: MPS has no float64)
    bar = None
    if config.run.progress and ctx.is_main and sys.stderr.isatty():  # a log file: the epoch line
        bar = tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{config.optim.epochs}",
                   leave=False, dynamic_ncols=True)
    for step, (images, labels) in enumerate(loader):
        n_global = labels.shape[0]
        images, labels = ctx.shard(images.to(device), labels.to(device))
        loss, logits = loss_fn(model, images, labels)
        optimizer.zero_grad(set_to_none=True)
        (loss * ctx.loss_scale(labels.shape[0], n_global)).backward()
        if config.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
        n = labels.shape[0]
        totals[0] += loss.detach() * n
        if labels.ndim == 2:  # multi-label: the share of correct 0/1 decisions
            totals[1] += correct_decisions(logits.detach(), labels)
        else:
            totals[1] += (logits.detach().argmax(-1) == labels).sum()
        totals[2] += n
        if bar is not None:
            bar.update(1)
            if step % 10 == 0 or step == len(loader) - 1:  # host sync only for the display
                bar.set_postfix(loss=f"{float(totals[0] / totals[2]):.3f}",
                                acc=f"{float(totals[1] / totals[2]):.3f}")
    if bar is not None:
        bar.close()
    ctx.sum(totals)
    loss, correct, count = totals.tolist()  # the epoch's one host sync
    mean_loss = loss / max(count, 1)
    check_loss_finite(mean_loss, epoch)
    return {"loss": mean_loss, "acc": correct / max(count, 1)}


def check_loss_finite(mean_loss: float, epoch: int) -> None:
    """The fit loop's NaN check: the model path has no per-step finiteness check (no syncs).

    Raises:
        FloatingPointError: the epoch's mean training loss is NaN or infinite.
    """
    if not math.isfinite(mean_loss):
        raise FloatingPointError(
            f"training loss is {mean_loss} in epoch {epoch + 1}: a NaN or inf reached the loss "
            "(set attention.kwargs check_finite=true to stop at the first non-finite scores)")
