"""The operator study, the `qdsformer analyze` command and scores from a trained checkpoint."""

import csv
import json

import pytest
import torch

from qdsformer.analysis import random_scores, sphere_grid
from qdsformer.analysis.study import (
    OperatorSetting,
    default_settings,
    parse_setting,
    run_study,
)
from qdsformer.attention import Normalizer, list_normalizers, register_normalizer
from qdsformer.attention import registry as attention_registry
from qdsformer.cli import main


def test_parse_setting_reads_typed_values_and_rejects_bad_specs():
    s = parse_setting("sinkhorn:n_iters=21,epsilon=0.5")
    assert s == OperatorSetting("sinkhorn", (("epsilon", 0.5), ("n_iters", 21)))
    assert s.setting == "epsilon=0.5,n_iters=21"
    assert s.label == "sinkhorn(epsilon=0.5,n_iters=21)"
    assert parse_setting("softmax").setting == "default"
    with pytest.raises(ValueError, match="known"):
        parse_setting("sofmax")
    with pytest.raises(ValueError, match="key=value"):
        parse_setting("sinkhorn:n_iters")


def test_default_settings_cover_every_normaliser():
    settings = default_settings()
    names = {s.operator for s in settings}
    assert names == set(list_normalizers())
    labels = {s.label for s in settings}
    assert {"sinkhorn(n_iters=3)", "sinkhorn(n_iters=21)", "softmax", "qr"} <= labels


def test_sphere_grid_uniqueness_and_soundness():
    grid = sphere_grid(dtype=torch.float64)
    settings = [parse_setting(s) for s in ("softmax", "sinkhorn:n_iters=21", "qr")]
    result = run_study(grid, settings, param_draws=1)
    # The 5 grid matrices with 4 equal columns (M = c 1^T) have constant rows, so softmax and
    # Sinkhorn send all 5 to the uniform matrix: at most 625 - 4 = 621 distinct outputs.
    assert result.value("softmax", "unique") == 621
    assert result.value("sinkhorn(n_iters=21)", "unique") == 621
    # QR is exactly doubly stochastic; 21 Sinkhorn half-steps nearly so; softmax is not.
    assert result.value("qr", "birkhoff_distance_max") < 1e-9
    assert result.value("qr", "column_error_max") < 1e-9
    assert result.value("sinkhorn(n_iters=21)", "birkhoff_distance_max") < 1e-6
    assert result.value("softmax", "birkhoff_distance_mean") > 1e-2
    assert result.value("softmax", "row_error_max") < 1e-12
    assert result.per_matrix["qr"]["entropy"].shape == (625,)
    with pytest.raises(ValueError, match="no metric"):
        result.value("qr", "accuracy")


def test_run_study_is_reproducible_and_validates():
    scores = random_scores(30, n=4, seed=2, dtype=torch.float64)
    settings = [parse_setting("qr")]
    assert run_study(scores, settings, seed=3).rows == run_study(scores, settings, seed=3).rows
    with pytest.raises(ValueError, match="square"):
        run_study(torch.zeros(3, 2, 4), settings)
    with pytest.raises(ValueError, match="param_draws"):
        run_study(scores, settings, param_draws=0)


@pytest.fixture
def random_temperature_normalizer():
    """A parametric toy operator (softmax at a random temperature), removed afterwards."""

    @register_normalizer("_test_random_temperature")
    class RandomTemperature(Normalizer):
        def __init__(self, seed: int = 0, check_finite: bool = True):
            super().__init__(check_finite=check_finite)
            gen = torch.Generator().manual_seed(seed)
            self.register_buffer("temperature", 0.5 + torch.rand((), generator=gen))

        def normalize(self, scores):
            return torch.softmax(scores / self.temperature, -1)

    yield "_test_random_temperature"
    attention_registry.NORMALIZERS.remove("_test_random_temperature")


def test_parametric_operator_gets_cell_range_over_draws(random_temperature_normalizer):
    scores = random_scores(20, n=4, seed=0, dtype=torch.float64)
    settings = [OperatorSetting(random_temperature_normalizer), parse_setting("softmax")]
    result = run_study(scores, settings, param_draws=3)
    label = random_temperature_normalizer
    assert result.value(label, "cell_range_mean") > 0
    assert result.value(label, "unique_all_draws") == 60  # 3 temperatures x 20 inputs
    assert result.value(label, "unique_mean") == 20
    with pytest.raises(ValueError):  # parameter-free operators get no range
        result.value("softmax", "cell_range_mean")


def test_analyze_command_writes_long_form_csv_json_and_figures(tmp_path, capsys):
    out = tmp_path / "an"
    code = main(["analyze", "--inputs", "random", "--n-samples", "12", "--size", "4",
                 "--operators", "softmax", "sinkhorn:n_iters=3", "--out", str(out)])
    assert code == 0
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"operator", "setting", "metric", "value"}
    by_key = {(r["operator"], r["setting"], r["metric"]): float(r["value"]) for r in rows}
    assert by_key[("softmax", "default", "unique")] == 12
    assert by_key[("sinkhorn", "n_iters=3", "row_error_max")] < 1e-5
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["n_matrices"] == 12 and len(meta["rows"]) == len(rows)
    for name in ("entropy_vs_information.png", "birkhoff_distance.png",
                 "uniqueness_vs_layers.png"):
        assert (out / name).stat().st_size > 1000
    assert "sinkhorn(n_iters=3)" in capsys.readouterr().out


def test_analyze_command_expands_default_operators(tmp_path, capsys):
    out = tmp_path / "an"
    code = main(["analyze", "--inputs", "random", "--n-samples", "3", "--size", "4",
                 "--operators", "default", "qr:noise_std=1e-7", "softmax", "--qontot-layers",
                 "1", "--qontot-aux", "0", "--param-draws", "1", "--no-figures",
                 "--out", str(out)])
    assert code == 0
    labels = json.loads((out / "metrics.json").read_text())["operators"]
    expected = [s.label for s in default_settings([1], [0])] + ["qr(noise_std=1e-07)"]
    assert labels == expected  # defaults once, extras appended, duplicates dropped


def test_analyze_command_reports_bad_input(tmp_path, capsys):
    assert main(["analyze", "--operators", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown attention normaliser 'nope'" in capsys.readouterr().err
    assert main(["analyze", "--inputs", "checkpoint", "--out", str(tmp_path)]) == 2
    assert "--checkpoint" in capsys.readouterr().err


def test_scores_from_a_trained_checkpoint(tmp_path):
    from qdsformer.apps.analyze import checkpoint_scores
    from qdsformer.models import attention_maps, create_vit, load_run, save_checkpoint

    model = create_vit("qdsformer_digits", attention="softmax", depth=2)
    config = {"model": {"preset": "qdsformer_digits", "depth": 2},
              "attention": {"name": "softmax", "kwargs": {}},
              "data": {"name": "digits", "root": None}}
    save_checkpoint({"config": config, "model": model.state_dict()}, tmp_path / "checkpoint.pt")
    scores, description = checkpoint_scores(str(tmp_path), n_images=6, split="test",
                                            dtype=torch.float32)
    assert scores.shape == (2 * 6, 5, 5)  # 2 blocks x 6 images x 1 head, T = 5
    assert "digits" in description
    # the captured scores are what the normaliser saw: softmax of them is the attention map
    from qdsformer.data import build_dataset

    dataset = build_dataset("digits", "test")
    images = torch.stack([dataset[i][0] for i in range(6)])
    _, rebuilt, _ = load_run(tmp_path)
    rebuilt.eval()
    maps = torch.cat([m[:, 0] for m in attention_maps(rebuilt, images)])  # (12, 5, 5)
    torch.testing.assert_close(torch.softmax(scores, -1), maps)
    code = main(["analyze", "--inputs", "checkpoint", "--checkpoint", str(tmp_path),
                 "--n-samples", "6", "--operators", "softmax", "--block", "1",
                 "--no-figures", "--out", str(tmp_path / "an")])
    assert code == 0
    with pytest.raises(ValueError, match="block"):
        checkpoint_scores(str(tmp_path), n_images=2, block=5)


def test_qontot_is_sound_and_parametric_on_the_sphere_grid():
    grid = sphere_grid(dtype=torch.float64)[::5]  # 125 inputs
    setting = parse_setting("qontot:n_layers=2,n_aux_qubits=2")
    result = run_study(grid, [setting], param_draws=2)
    assert result.value(setting.label, "birkhoff_distance_max") < 1e-9
    assert result.value(setting.label, "column_error_max") < 1e-9
    assert result.value(setting.label, "cell_range_mean") > 1e-3  # theta draws matter


def test_deepest_settings_keep_one_circuit_depth_per_group(random_temperature_normalizer):
    from qdsformer.analysis.figures import deepest_settings

    settings = [OperatorSetting(random_temperature_normalizer, (("n_layers", k),))
                for k in (1, 4, 2)] + [parse_setting("softmax")]
    result = run_study(random_scores(3, n=3, dtype=torch.float64), settings[-1:], param_draws=1)
    result.settings = settings  # labels only: deepest_settings reads no values
    assert deepest_settings(result) == [f"{random_temperature_normalizer}(n_layers=4)", "softmax"]
