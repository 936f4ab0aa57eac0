"""The operator study with (q, k) normalisers (esp, lot): factorised score inputs, checkpoints."""

import pytest
import torch

from qdsformer.analysis import random_scores
from qdsformer.analysis.inputs import capture_scores
from qdsformer.analysis.study import operator_outputs, parse_setting, run_study
from qdsformer.attention import create_normalizer, qk_from_scores


@pytest.mark.parametrize("n, dim", [(4, None), (8, None), (5, 7)])
def test_qk_from_scores_is_an_exact_factorisation(n, dim):
    scores = random_scores(6, n, scale=2.0, seed=n, dtype=torch.float64).reshape(3, 2, n, n)
    q, k = qk_from_scores(scores, dim)
    assert q.shape == k.shape == (3, 2, n, dim or n)
    assert torch.allclose(q @ k.transpose(-2, -1), scores, atol=1e-12)
    with pytest.raises(ValueError, match="dim must be >= T"):
        qk_from_scores(scores, n - 1)


def test_study_runs_esp_and_lot_on_score_inputs():
    scores = random_scores(40, 4, seed=0, dtype=torch.float64)
    settings = [parse_setting(s) for s in ("esp", "lot", "lot:n_iters=201,tol=1e-12")]
    result = run_study(scores, settings, param_draws=2)
    # lot's rows are exact (the last Sinkhorn step fits them); converged, columns too
    assert result.value("lot", "row_error_max") < 1e-12
    assert result.value("lot(n_iters=201,tol=1e-12)", "column_error_max") < 1e-9
    assert result.value("lot(n_iters=201,tol=1e-12)", "birkhoff_distance_max") < 1e-8
    # esp is doubly stochastic only up to SoftSort's softness: a small but nonzero gap
    assert 0 < result.value("esp", "column_error_max") < 0.5
    # lot holds a random pivot: parameter draws change its outputs, esp has no parameters
    assert result.value("lot", "cell_range_max") > 0
    assert not any(r["metric"] == "cell_range_max" and r["operator"] == "esp"
                   for r in result.rows)


def test_operator_outputs_factorise_and_size_the_operator():
    scores = random_scores(5, 6, seed=1, dtype=torch.float64)
    out = operator_outputs(parse_setting("lot:r=3"), scores, seed=4)
    norm = create_normalizer("lot", r=3, head_dim=6, num_heads=1, seed=4).double()
    assert torch.allclose(out, norm(*qk_from_scores(scores[:, None]))[:, 0], atol=1e-12)


def test_capture_scores_of_a_qk_model_are_q_k_over_sqrt_d():
    from qdsformer.models import attention_layers, create_vit

    torch.manual_seed(0)
    model = create_vit("qdsformer_digits", attention="esp", depth=1)
    images = torch.randn(3, 1, 8, 8)
    layer = attention_layers(model)[0]
    seen = {}
    layer.qkv.register_forward_hook(lambda m, i, o: seen.__setitem__("qkv", o))
    captured = capture_scores(model, images)[0]  # (3, 1, 5, 5)
    q, k, _ = seen["qkv"].reshape(3, 5, 3, 1, 64).permute(2, 0, 3, 1, 4)  # (B, H, T, d)
    assert torch.allclose(captured, q @ k.transpose(-2, -1) / 8.0, atol=1e-5)
