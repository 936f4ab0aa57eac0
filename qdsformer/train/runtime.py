"""How long a run will take: a few measured training steps, extrapolated.

    estimate = estimate_run_seconds(config)   # times n_steps real steps of the run's model
    estimate["total_seconds"]                 # seconds_per_step * steps_per_epoch * epochs

The model, optimiser, batch size and device are the run's own (``config``); the batch is the
first batch of the run's training set, so the time includes the data's real shape. With a
QontOT block on ``strategy: mixed`` the gradient-free phase is added: a few timed fit-batch
and check-batch loss evaluations times the phase's ``mixed.evaluations + 2`` fit-batch and 2
check-batch evaluations per phase. The estimate
covers the training steps (and that phase) only: evaluation after each epoch, data loading and
checkpointing are left out (on the paper's protocol they are a few percent of a
quantum-attention run; more for cheap softmax runs).
"""

from __future__ import annotations

import math
import statistics
import time

import torch
import torch.nn.functional as F

from qdsformer.train.compile import compile_model
from qdsformer.train.config import Config
from qdsformer.train.engine import (
    build_loaders,
    build_model,
    cross_entropy_loss,
    resolve_device,
    seed_everything,
)
from qdsformer.train.mixed import MixedPhase
from qdsformer.train.optim import build_optimizer

__all__ = ["estimate_run_seconds"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def estimate_run_seconds(config: Config, *, n_steps: int = 3) -> dict:
    """Estimate the training wall time of ``config`` from ``n_steps`` timed steps.

    One untimed warm-up step (with ``run.compile``, the step that compiles), then ``n_steps``
    timed steps (forward, cross-entropy, backward, optimiser step) on the run's first training
    batch; the median step time is multiplied by the steps per epoch
    (ceil(n_train / batch_size)) and the epochs.

    Args:
        config: the run's :class:`Config` (e.g. from ``load_config``).
        n_steps: timed steps, >= 1.

    Returns:
        dict with ``seconds_per_step``, ``steps_per_epoch``, ``epochs``, ``total_seconds``,
        ``total_hours``, ``batch_size``, ``n_train``, ``n_steps_timed``, ``device``,
        ``threads``, ``attention`` and ``mixed_seconds_per_epoch`` (0 without a mixed phase).

    Raises:
        ValueError: ``n_steps`` < 1, or a bad config value (from the builders).
    """
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
    device = resolve_device(config.run.device)
    seed_everything(config.run.seed)
    model = build_model(config).to(device)
    optimizer = build_optimizer(config, model.parameters())
    stepped = compile_model(model, device) if config.run.compile else model
    train = build_loaders(config)["train"]
    images, labels = next(iter(train))
    images, labels = images.to(device), labels.to(device)
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(stepped(images), labels).backward()
        optimizer.step()

    per_step = _median_seconds(step, n_steps, device)  # after a warm-up step (allocations)
    n_train = len(train.dataset)
    steps_per_epoch = math.ceil(n_train / config.data.batch_size)
    epochs = config.optim.epochs
    mixed = MixedPhase.from_config(config, model, train.dataset, device)
    mixed_per_epoch = 0.0
    if mixed is not None:  # (evaluations + 2) fit- and 2 check-batch evaluations per phase
        model.eval()  # as in the phase: frozen ViT, no training noise
        fit_batch, check_batch = mixed.batches(0)
        fit_eval, check_eval = (
            _median_seconds(lambda b=b: mixed.loss(cross_entropy_loss, *b), n_steps, device)
            for b in (fit_batch, check_batch))
        phase = fit_eval * (config.mixed.evaluations + 2) + check_eval * 2
        mixed_per_epoch = phase / config.mixed.every  # a phase every mixed.every epochs
    total = (per_step * steps_per_epoch + mixed_per_epoch) * epochs
    return {
        "seconds_per_step": per_step,
        "steps_per_epoch": steps_per_epoch,
        "epochs": epochs,
        "total_seconds": total,
        "total_hours": total / 3600,
        "batch_size": config.data.batch_size,
        "n_train": n_train,
        "n_steps_timed": n_steps,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "attention": config.attention.name,
        "mixed_seconds_per_epoch": mixed_per_epoch,
    }


def _median_seconds(work, n: int, device: torch.device) -> float:
    """Median wall time of ``n`` calls of ``work()`` after one untimed warm-up call."""
    work()
    times = []
    for _ in range(n):
        _sync(device)
        start = time.perf_counter()
        work()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
