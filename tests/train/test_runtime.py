"""Run-time estimate: a few timed steps extrapolated (no timing asserts, only the arithmetic)."""

import json

import pytest

from qdsformer.cli import main
from qdsformer.train.config import load_config
from qdsformer.train.runtime import estimate_run_seconds

SMALL = ["data.train_limit=30", "data.batch_size=8", "optim.epochs=3",
         "model.depth=1", "run.device=cpu"]


def test_estimate_multiplies_step_time_by_steps_and_epochs():
    config = load_config("experiments/configs/digits.yaml", SMALL)
    est = estimate_run_seconds(config, n_steps=2)
    assert est["steps_per_epoch"] == 4  # ceil(30 / 8)
    assert est["epochs"] == 3
    assert est["seconds_per_step"] > 0
    assert est["total_seconds"] == pytest.approx(est["seconds_per_step"] * 4 * 3)
    assert est["n_train"] == 30 and est["batch_size"] == 8


def test_estimate_adds_the_mixed_phase():
    config = load_config("experiments/configs/digits.yaml", SMALL + [
        "attention.kwargs.strategy=mixed", "mixed.evaluations=10", "mixed.every=2",
        "mixed.batch_size=4"])
    est = estimate_run_seconds(config, n_steps=1)
    assert est["mixed_seconds_per_epoch"] > 0
    assert est["total_seconds"] == pytest.approx(
        (est["seconds_per_step"] * 4 + est["mixed_seconds_per_epoch"]) * 3)
    assert estimate_run_seconds(load_config("experiments/configs/digits.yaml", SMALL),
                                n_steps=1)["mixed_seconds_per_epoch"] == 0


def test_estimate_times_the_compiled_model_under_run_compile(monkeypatch):
    """With run.compile the timed steps go through compile_model's module, as the fit loop's."""
    import qdsformer.train.runtime as runtime

    stepped = []

    def fake_compile(model, device):
        def forward(x):
            stepped.append(x.shape[0])
            return model(x)
        return forward

    monkeypatch.setattr(runtime, "compile_model", fake_compile)
    estimate_run_seconds(load_config("experiments/configs/digits.yaml", SMALL), n_steps=2)
    assert stepped == []
    estimate_run_seconds(load_config("experiments/configs/digits.yaml",
                                     SMALL + ["run.compile=true"]), n_steps=2)
    assert stepped == [8, 8, 8]  # the warm-up (compiling) step and the two timed ones


def test_estimate_rejects_a_bad_step_count():
    config = load_config("experiments/configs/digits.yaml", SMALL)
    with pytest.raises(ValueError, match="n_steps must be an int >= 1, got 0"):
        estimate_run_seconds(config, n_steps=0)


@pytest.mark.parametrize("suite", ["runtime", "estimate"])
def test_bench_runtime_prints_and_writes_json(tmp_path, capsys, caplog, suite):
    out = tmp_path / "estimate.json"
    args = ["bench", suite, "--config", "experiments/configs/digits.yaml", "--steps", "1",
            "--json", str(out)]
    for item in SMALL:
        args += ["--set", item]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert data["steps_per_epoch"] == 4 and data["epochs"] == 3
    assert "training steps only" in capsys.readouterr().out
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == ([] if suite == "runtime" else [
        "the name 'estimate' is deprecated; use 'runtime' (the same command)"])
