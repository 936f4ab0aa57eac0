"""run.log=tensorboard: event files whose scalars equal metrics.csv, the attention's marginal
error checked against an independent computation, resume without duplicated epochs, and bad
settings rejected before a run folder exists."""

import csv
import importlib.util

import pytest
import torch
import yaml

from qdsformer.cli import main
from qdsformer.models import load_checkpoint, save_checkpoint
from qdsformer.train.config import load_config
from qdsformer.train.engine import build_loaders, build_model, fit
from qdsformer.train.tensorboard import MISSING, SCALAR_TAGS, TENSORBOARD_DIR

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

QUICK = ["optim.epochs=2", "data.train_limit=200", "data.val_limit=100", "data.test_limit=50",
         "run.progress=false", "run.log=tensorboard"]


def _events(run_dir) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir / TENSORBOARD_DIR))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _rows(run_dir) -> list[dict]:
    with (run_dir / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def _assert_events_match_csv(run_dir) -> None:
    events, rows = _events(run_dir), _rows(run_dir)
    assert set(events) == set(SCALAR_TAGS.values())
    for field, tag in SCALAR_TAGS.items():
        expected = [(int(r["epoch"]), float(r[field])) for r in rows]
        got = events[tag]
        assert [step for step, _ in got] == [step for step, _ in expected], tag
        for (_, value), (_, want) in zip(got, expected):  # event files hold float32
            assert value == pytest.approx(want, rel=1e-6, abs=1e-12), (tag, value, want)


@pytest.mark.parametrize("name", ["sinkhorn", "qr"])
def test_event_scalars_equal_metrics_csv_and_the_marginal_error_is_recomputed(tmp_path, name):
    config = load_config(None, [*QUICK, f"attention.name={name}"])
    run_dir = tmp_path / name
    fit(config, run_dir=run_dir)
    _assert_events_match_csv(run_dir)
    rows = _rows(run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    # independent: the final weights' attention on the first validation batch, summed by hand
    model = build_model(config)
    model.load_state_dict(load_checkpoint(run_dir)["model"])
    model.eval()
    images = build_loaders(config)["val"].dataset.images[: config.data.batch_size]
    errors = []
    for block in model.blocks:
        block.attn.store_attention = True
    with torch.no_grad():
        model(images)
    for block in model.blocks:
        p = block.attn.last_attention.double()  # (B, H, T, T)
        row = (p.sum(-1) - 1).abs().amax(-1)  # (B, H)
        col = (p.sum(-2) - 1).abs().amax(-1)  # (B, H)
        errors.append((row + col).mean())
    expected = float(torch.stack(errors).mean())
    logged = float(rows[-1]["attn_marginal_error"])
    assert logged == pytest.approx(expected, rel=1e-4, abs=1e-6)
    if name == "qr":  # exactly doubly stochastic (orthostochastic) up to float32 rounding
        assert logged < 1e-4
    else:  # 3 Sinkhorn half-steps end on rows: rows exact, columns off
        assert logged > 1e-3


def test_resumed_run_writes_each_epoch_once(tmp_path):
    run_dir = tmp_path / "cut"
    args = [f"--set={item}" for item in QUICK + ["optim.epochs=3", "attention.name=softmax"]]
    assert main(["train", *args, "--run-dir", str(run_dir), "--stop-after-epochs", "2"]) == 0
    assert main(["train", "--resume", str(run_dir)]) == 0
    _assert_events_match_csv(run_dir)
    assert [step for step, _ in _events(run_dir)["lr"]] == [1, 2, 3]
    # softmax attention has free columns: far from doubly stochastic
    assert all(float(r["attn_marginal_error"]) > 0.05 for r in _rows(run_dir))


def test_default_run_writes_no_event_files_and_no_extra_column(tmp_path):
    config = load_config(None, [*QUICK[:-1], "optim.epochs=1", "attention.name=softmax"])
    fit(config, run_dir=tmp_path / "r")
    assert not (tmp_path / "r" / TENSORBOARD_DIR).exists()
    assert "attn_marginal_error" not in _rows(tmp_path / "r")[0]


@pytest.mark.parametrize(("value", "message"), [
    ("tensorbord", "run.log must be one of none, tensorboard, got 'tensorbord'"),
    ("TensorBoard", "run.log must be one of none, tensorboard, got 'TensorBoard'"),
    ("5", "config key run.log expects str, got 5"),
    ("[tensorboard]", "config key run.log expects str, got ['tensorboard']"),
    ("", "config key run.log may not be null"),
    ("null", "config key run.log may not be null"),
])
def test_bad_run_log_is_one_line_naming_the_key_and_leaves_nothing(tmp_path, capsys, value,
                                                                   message):
    out_dir = tmp_path / "out"
    code = main(["train", "--set", f"run.log={value}", "--set", f"run.out_dir={out_dir}"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out_dir.exists()


def test_tensorboard_not_installed_is_a_clear_error_before_any_folder(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    config = load_config(None, [*QUICK, f"run.out_dir={tmp_path / 'out'}"])
    with pytest.raises(ValueError) as caught:
        fit(config)
    assert str(caught.value) == f"invalid config: {MISSING}"
    assert not (tmp_path / "out").exists()


def test_runs_made_before_newer_keys_existed_still_resume(tmp_path):
    """Keys added since (run.log, run.compile, data.fold, data.n_folds) take their defaults."""
    run_dir = tmp_path / "old"
    args = ["--set=optim.epochs=2", "--set=data.train_limit=100", "--set=run.progress=false",
            "--set=attention.name=softmax"]
    assert main(["train", *args, "--run-dir", str(run_dir), "--stop-after-epochs", "1"]) == 0
    state = load_checkpoint(run_dir)  # make it look like a run of the previous version
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    for tree in (state["config"], saved):
        for section, key in (("run", "log"), ("run", "compile"), ("data", "fold"),
                             ("data", "n_folds")):
            del tree[section][key]
    save_checkpoint(state, run_dir / "checkpoint.pt")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved))
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert [int(r["epoch"]) for r in _rows(run_dir)] == [1, 2]
    assert load_checkpoint(run_dir)["epoch"] == 2


def test_python_api_may_switch_logging_on_when_resuming(tmp_path):
    config = load_config(None, [*QUICK[:-1], "attention.name=softmax"])
    fit(config, run_dir=tmp_path / "r", stop_after_epochs=1)
    fit(load_config(None, [*QUICK, "attention.name=softmax"]), run_dir=tmp_path / "r",
        resume=True)
    rows = _rows(tmp_path / "r")
    assert rows[0]["attn_marginal_error"] == "" and float(rows[1]["attn_marginal_error"]) > 0.05
    assert [step for step, _ in _events(tmp_path / "r")["lr"]] == [2]
