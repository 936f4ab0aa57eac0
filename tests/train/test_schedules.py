"""Warm-up + cosine learning rate (the Eureka setup) and that the defaults change nothing."""

import math

import pytest
import torch

from qdsformer.train.config import load_config
from qdsformer.train.optim import build_optimizer, build_scheduler
from qdsformer.train.schedules import warmup_cosine_lr


def _lrs(config, epochs):
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_warmup_is_linear_then_cosine_down_to_min_lr():
    lr, epochs, warm, wlr, mlr = 5e-4, 100, 5, 1e-6, 1e-5
    values = [warmup_cosine_lr(e, lr, epochs, warm, wlr, mlr) for e in range(epochs)]
    assert values[0] == wlr
    assert values[1:5] == pytest.approx([wlr + e * (lr - wlr) / 5 for e in range(1, 5)])
    # timm's CosineLRScheduler without warmup_prefix: the cosine clock counts from epoch 0
    assert values[5] == pytest.approx(mlr + 0.5 * (lr - mlr) * (1 + math.cos(math.pi * 5 / 100)))
    assert values[50] == pytest.approx((lr + mlr) / 2)
    assert all(a > b for a, b in zip(values[5:], values[6:]))  # decreasing after warm-up
    assert values[-1] > mlr


def test_fit_loop_follows_the_function():
    config = load_config(None, ["optim.name=adamw", "optim.lr=5e-4", "optim.epochs=12",
                                "optim.warmup_epochs=3", "optim.warmup_lr=1e-6",
                                "optim.min_lr=1e-5"])
    expected = [warmup_cosine_lr(e, 5e-4, 12, 3, 1e-6, 1e-5) for e in range(12)]
    assert _lrs(config, 12) == pytest.approx(expected, rel=1e-12)


def test_defaults_keep_the_plain_cosine_exactly():
    config = load_config(None, ["optim.epochs=10"])
    assert (config.optim.warmup_epochs, config.optim.warmup_lr, config.optim.min_lr) == (0, 0, 0)
    model = torch.nn.Linear(2, 2)
    scheduler = build_scheduler(config, build_optimizer(config, model.parameters()))
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)


def test_bad_options():
    with pytest.raises(ValueError, match="warmup_epochs needs schedule cosine"):
        build_scheduler(load_config(None, ["optim.schedule=multistep", "optim.warmup_epochs=2"]),
                        torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1))
    with pytest.raises(ValueError, match="warmup_epochs must be in"):
        warmup_cosine_lr(0, 1e-3, 5, warmup_epochs=5)
