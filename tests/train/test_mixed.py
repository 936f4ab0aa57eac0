"""QontOT circuit strategies in training: the mixed phase, exact resume, static vs differentiable."""

import csv
import logging
import math

import pytest
import torch

from qdsformer.cli import main
from qdsformer.models import load_checkpoint
from qdsformer.train.config import MixedConfig, load_config
from qdsformer.train.engine import build_model, cross_entropy_loss, fit
from qdsformer.train.mixed import MixedPhase, held_batch_indices, mixed_blocks

# digits, T = 5 on 3 data + 1 auxiliary qubit, 1-layer circuit: 12 parameters per block
TINY = ["attention.kwargs.n_layers=1", "data.train_limit=96", "data.val_limit=64",
        "data.test_limit=64", "run.progress=false", "optim.epochs=2"]


def _held_loss(model, images, labels):
    was = model.training
    model.eval()
    with torch.no_grad():
        loss = float(cross_entropy_loss(model, images, labels)[0])
    model.train(was)
    return loss


def test_a_phase_never_raises_the_held_batch_loss_and_usually_lowers_it():
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed"])
    torch.manual_seed(0)
    model = build_model(config).train()
    blocks = mixed_blocks(model)
    assert len(blocks) == 2  # one per ViT block, each searched with its own vector
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    settings = MixedConfig(optimizer="OnePlusOne", steps=30)
    phase = MixedPhase(model, images, labels, settings, seed=0)
    unused = [b.theta[12:].clone() for b in blocks]
    results = [phase.run(epoch, cross_entropy_loss) for epoch in range(3)]
    for before, result in zip([r.loss_before for r in results], results):
        assert result.loss_after <= before
    assert results[1].loss_before == results[0].loss_after  # theta kept between phases
    assert _held_loss(model, images, labels) == results[-1].loss_after  # what was reported
    assert results[-1].loss_after < results[0].loss_before  # the search does something
    assert model.training  # mode restored
    for block, rest in zip(blocks, unused):  # only the entries the circuit uses are searched
        assert torch.equal(block.theta[12:], rest)


def test_a_rejected_recommendation_leaves_theta_exactly_as_it_was():
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed"])
    model = build_model(config)
    images, labels = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    theta = [b.theta.clone() for b in mixed_blocks(model)]

    def worse_away_from_start(model, images, labels):  # minimised at the current theta
        logits = model(images)
        gap = sum((b.theta - t).square().sum() for b, t in zip(mixed_blocks(model), theta))
        return gap + 0 * logits.sum(), logits

    result = MixedPhase(model, images, labels, MixedConfig(steps=5), seed=1).run(
        0, worse_away_from_start)
    assert result.loss_after == result.loss_before == 0.0
    for block, t in zip(mixed_blocks(model), theta):
        assert torch.equal(block.theta, t)


def test_held_batch_is_seeded_and_reproducible():
    a, b = held_batch_indices(100, 10, 3), held_batch_indices(100, 10, 3)
    assert torch.equal(a, b) and len(set(a.tolist())) == 10
    assert not torch.equal(a, held_batch_indices(100, 10, 4))
    assert len(held_batch_indices(5, 10, 0)) == 5


def test_mixed_run_killed_and_resumed_equals_the_uninterrupted_run(tmp_path):
    args = ["--set", "attention.kwargs.strategy=mixed", "--set", "mixed.steps=4",
            "--set", "mixed.batch_size=16", "--set", "mixed.optimizer=OnePlusOne"]
    args += [a for t in TINY for a in ("--set", t)]
    assert main(["train", *args, "--run-dir", str(tmp_path / "full")]) == 0
    assert main(["train", *args, "--run-dir", str(tmp_path / "cut"),
                 "--stop-after-epochs", "1"]) == 0
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    full, cut = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    assert any(k.endswith("normalizer.theta") for k in full["model"])
    for key, value in full["model"].items():
        assert torch.equal(value, cut["model"][key]), key
    strip = [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in full["history"]]
    assert strip == [{k: v for k, v in r.items() if k != "epoch_seconds"}
                     for r in cut["history"]]
    rows = list(csv.DictReader((tmp_path / "full" / "metrics.csv").open()))
    assert len(rows) == 2
    for row in rows:
        assert float(row["mixed_loss_after"]) <= float(row["mixed_loss_before"])
    start = build_model(load_config(None, TINY + ["attention.kwargs.strategy=mixed"]))
    moved = [not torch.equal(b.theta, full["model"][f"blocks.{i}.attn.normalizer.theta"])
             for i, b in enumerate(mixed_blocks(start))]
    improved = any(float(r["mixed_loss_after"]) < float(r["mixed_loss_before"]) for r in rows)
    assert any(moved) == improved  # theta moves exactly when a phase lowered the held loss


def test_phase_every_second_epoch_leaves_nan_between_and_logs_the_phase(tmp_path, caplog):
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed", "mixed.steps=2",
                                       "mixed.every=2", "mixed.batch_size=8"])
    with caplog.at_level(logging.INFO, logger="qdsformer.train.mixed"):
        fit(config, run_dir=tmp_path / "r")
    lines = [r.getMessage() for r in caplog.records if r.name == "qdsformer.train.mixed"]
    assert len(lines) == 1 and lines[0].startswith("mixed phase after epoch 2: held-batch loss")
    rows = list(csv.DictReader((tmp_path / "r" / "metrics.csv").open()))
    assert math.isnan(float(rows[0]["mixed_loss_before"]))
    assert not math.isnan(float(rows[1]["mixed_loss_before"]))


@pytest.mark.parametrize("strategy,changes", [("static", False), ("differentiable", True)])
def test_training_moves_theta_only_when_differentiable(tmp_path, strategy, changes):
    config = load_config(None, TINY + [f"attention.kwargs.strategy={strategy}",
                                       "optim.epochs=1"])
    before = build_model(config).state_dict()
    fit(config, run_dir=tmp_path / "r")
    after = load_checkpoint(tmp_path / "r")["model"]
    keys = [k for k in before if k.endswith("normalizer.theta")]
    assert len(keys) == 2
    assert all(torch.equal(before[k], after[k]) != changes for k in keys)
    rows = list(csv.DictReader((tmp_path / "r" / "metrics.csv").open()))
    assert "mixed_loss_before" not in rows[0]  # the columns only for mixed runs


def test_bad_strategy_and_mixed_settings_are_clear_errors(tmp_path, capsys):
    assert main(["train", "--set", "attention.kwargs.strategy=evolved",
                 "--run-dir", str(tmp_path / "a")]) == 2
    assert "unknown strategy 'evolved'; expected one of static, differentiable, mixed" in (
        capsys.readouterr().err)
    base = TINY + ["attention.kwargs.strategy=mixed"]
    with pytest.raises(ValueError, match="mixed.optimizer 'NGOptt' is not a Nevergrad "
                                         "optimiser; closest: NGOpt"):
        fit(load_config(None, base + ["mixed.optimizer=NGOptt"]), run_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="mixed.steps must be an int >= 1, got 0"):
        fit(load_config(None, base + ["mixed.steps=0"]), run_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="mixed.batch_size must be null"):
        fit(load_config(None, base + ["mixed.batch_size=0"]), run_dir=tmp_path / "d")
    # checked with the rest of the config, before the run folder exists
    assert not any((tmp_path / name).exists() for name in "abcd")
