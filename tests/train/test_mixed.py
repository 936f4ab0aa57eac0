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
from qdsformer.train.mixed import MIXED_FIELDS, MixedPhase, mixed_blocks, phase_batch_indices

# digits, T = 5 on 3 data + 1 auxiliary qubit, 1-layer circuit: 12 parameters per block
TINY = ["attention.kwargs.n_layers=1", "data.train_limit=96", "data.val_limit=64",
        "data.test_limit=64", "run.progress=false", "optim.epochs=2"]


def _pool(n: int = 64):
    """n stand-in training images, image i filled with the value i (so a batch names its ids)."""
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 8, 8)
    return images.contiguous(), torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(0))


def _phase(model, steps=30, fit_size=16, check_size=16, seed=0, optimizer="OnePlusOne"):
    images, labels = _pool()
    return MixedPhase(model, images, labels, MixedConfig(optimizer=optimizer, evaluations=steps),
                      seed=seed, fit_size=fit_size, check_size=check_size)


def _theta_gap_loss(model, theta, sign_of):
    """A loss of theta's distance from ``theta``, its sign chosen per batch by ``sign_of``."""
    def loss_fn(model_, images, labels):
        logits = model_(images)
        gap = sum((b.theta - t).square().sum() for b, t in zip(mixed_blocks(model), theta))
        return sign_of(images) * gap + 0 * logits.sum(), logits
    return loss_fn


def test_a_phase_searches_a_fresh_fit_batch_and_keeps_theta_only_if_the_check_loss_falls():
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed"])
    torch.manual_seed(0)
    model = build_model(config).train()
    blocks = mixed_blocks(model)
    assert len(blocks) == 2  # one per ViT block, each searched with its own vector
    phase = _phase(model)
    unused = [b.theta[12:].clone() for b in blocks]
    for epoch in range(4):
        before = [b.theta.clone() for b in blocks]
        result = phase.run(epoch, cross_entropy_loss)
        (_, _), (check_x, check_y) = phase.batches(epoch)
        now = _held(model, phase, check_x, check_y)
        if result.accepted:
            assert result.check_recommended < result.check_before
            assert now == result.check_recommended
        else:
            assert now == result.check_before
            assert all(torch.equal(b.theta, t) for b, t in zip(blocks, before))
        assert result.fit_recommended < result.fit_before  # the search does something
    assert model.training  # mode restored
    for block, rest in zip(blocks, unused):  # only the entries the circuit uses are searched
        assert torch.equal(block.theta[12:], rest)


def _held(model, phase, images, labels):
    was = model.training
    model.eval()
    loss = phase.loss(cross_entropy_loss, images, labels)
    model.train(was)
    return loss


def test_a_phase_that_helps_the_fit_batch_but_hurts_the_check_batch_is_rejected():
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed"])
    model = build_model(config)
    theta = [b.theta.clone() for b in mixed_blocks(model)]
    phase = _phase(model, steps=20)
    (fit_x, _), _ = phase.batches(0)
    fit_ids = set(fit_x[:, 0, 0, 0].tolist())

    def sign_of(images):  # moving theta away from the start lowers the fit loss only
        return -1.0 if images[0, 0, 0, 0].item() in fit_ids else 1.0

    result = phase.run(0, _theta_gap_loss(model, theta, sign_of))
    assert result.fit_recommended < result.fit_before == 0.0  # the fit batch improved
    assert result.check_recommended > result.check_before == 0.0  # the check batch did not
    assert not result.accepted
    for block, t in zip(mixed_blocks(model), theta):
        assert torch.equal(block.theta, t)
    assert result.row()["mixed_accepted"] == 0.0


def test_a_phase_that_helps_both_batches_is_taken():
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed"])
    model = build_model(config)
    target = [b.theta.clone() + 0.5 for b in mixed_blocks(model)]
    start = [b.theta.clone() for b in mixed_blocks(model)]
    phase = _phase(model, steps=20)
    result = phase.run(0, _theta_gap_loss(model, target, lambda images: 1.0))
    assert result.accepted and result.check_recommended < result.check_before
    assert any(not torch.equal(b.theta, s) for b, s in zip(mixed_blocks(model), start))


def test_phase_batches_are_disjoint_seeded_and_fresh_per_epoch():
    fit, check = phase_batch_indices(100, 10, 20, seed=3, epoch=0)
    assert len(fit) == 10 and len(check) == 20
    assert len(set(fit.tolist()) | set(check.tolist())) == 30  # distinct and disjoint
    again = phase_batch_indices(100, 10, 20, seed=3, epoch=0)
    assert torch.equal(fit, again[0]) and torch.equal(check, again[1])
    assert not torch.equal(fit, phase_batch_indices(100, 10, 20, seed=3, epoch=1)[0])
    assert not torch.equal(fit, phase_batch_indices(100, 10, 20, seed=4, epoch=0)[0])
    assert len(phase_batch_indices(30, 10, 20, seed=0, epoch=0)[1]) == 20  # exactly fits
    with pytest.raises(ValueError, match=r"^mixed.batch_size \(10\) \+ mixed.check_size \(21\) "
                                         r"exceed the 30 training examples; the fit and check "
                                         r"batches must be disjoint$"):
        phase_batch_indices(30, 10, 21, seed=0, epoch=0)


def test_mixed_run_killed_and_resumed_equals_the_uninterrupted_run(tmp_path):
    args = ["--set", "attention.kwargs.strategy=mixed", "--set", "mixed.evaluations=4",
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
    for row in rows:  # taken exactly when the check loss fell
        taken = float(row["mixed_check_recommended"]) < float(row["mixed_check_before"])
        assert float(row["mixed_accepted"]) == float(taken)
    start = build_model(load_config(None, TINY + ["attention.kwargs.strategy=mixed"]))
    moved = [not torch.equal(b.theta, full["model"][f"blocks.{i}.attn.normalizer.theta"])
             for i, b in enumerate(mixed_blocks(start))]
    assert any(moved) == any(float(r["mixed_accepted"]) for r in rows)


def test_phase_every_second_epoch_leaves_nan_between_and_logs_the_phase(tmp_path, caplog):
    config = load_config(None, TINY + ["attention.kwargs.strategy=mixed", "mixed.evaluations=2",
                                       "mixed.every=2", "mixed.batch_size=8"])
    with caplog.at_level(logging.INFO, logger="qdsformer.train.mixed"):
        fit(config, run_dir=tmp_path / "r")
    lines = [r.getMessage() for r in caplog.records if r.name == "qdsformer.train.mixed"]
    assert len(lines) == 1 and lines[0].startswith("mixed phase after epoch 2: fit-batch loss")
    rows = list(csv.DictReader((tmp_path / "r" / "metrics.csv").open()))
    assert all(math.isnan(float(rows[0][k])) for k in MIXED_FIELDS)
    assert not any(math.isnan(float(rows[1][k])) for k in MIXED_FIELDS)


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
    assert not set(MIXED_FIELDS) & set(rows[0])  # the columns only for mixed runs


def test_bad_strategy_and_mixed_settings_are_clear_errors(tmp_path, capsys):
    assert main(["train", "--set", "attention.kwargs.strategy=evolved",
                 "--run-dir", str(tmp_path / "a")]) == 2
    assert "unknown strategy 'evolved'; expected one of static, differentiable, mixed" in (
        capsys.readouterr().err)
    base = TINY + ["attention.kwargs.strategy=mixed"]
    with pytest.raises(ValueError, match="mixed.optimizer 'NGOptt' is not a Nevergrad "
                                         "optimiser; closest: NGOpt"):
        fit(load_config(None, base + ["mixed.optimizer=NGOptt"]), run_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="mixed.evaluations must be an int >= 1, got 0"):
        fit(load_config(None, base + ["mixed.evaluations=0"]), run_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="mixed.batch_size must be null"):
        fit(load_config(None, base + ["mixed.batch_size=0"]), run_dir=tmp_path / "d")
    for bad in ("true", "2.5", "x"):  # the config loader's type check
        with pytest.raises(ValueError, match=r"^config key mixed.check_size expects int, got "):
            load_config(None, base + [f"mixed.check_size={bad}"])
    for bad in ("0", "-3"):
        with pytest.raises(ValueError, match=r"^invalid config: mixed.check_size must be null "
                                             r"\(the fit batch size\) or an int >= 1, got "
                                             rf"{bad}$"):
            fit(load_config(None, base + [f"mixed.check_size={bad}"]), run_dir=tmp_path / "e")
    # the two batches must fit in the 96 training examples: refused before the folder exists
    with pytest.raises(ValueError, match=r"^mixed.batch_size \(60\) \+ mixed.check_size \(40\) "
                                         r"exceed the 96 training examples"):
        fit(load_config(None, base + ["mixed.batch_size=60", "mixed.check_size=40"]),
            run_dir=tmp_path / "f")
    # checked with the rest of the config, before the run folder exists
    assert not any((tmp_path / name).exists() for name in "abcdef")
