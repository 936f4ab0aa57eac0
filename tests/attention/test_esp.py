"""ESPFormer (``esp``): parity with the authors' forward, marginals, gradients, the timm layer."""

import pytest
import torch
from torch.nn import functional as F

from qdsformer.attention import create_normalizer
from qdsformer.attention.esp import esp_plan, slice_plans, soft_sort

# ---------------------------------------------------------------------------------------------
# Reference: a line-by-line port of the authors' forward (github.com/Anon4142/ESPFormer,
# attentions/esp.py at 96b187e: SoftSort_p2.forward, GammaAggregator.forward, Esp.forward
# without mask and interp), written as plain functions; kept here, only for the parity test.
# ---------------------------------------------------------------------------------------------


def _ref_softsort_p2(scores, tau=1e-3):
    scores = scores.transpose(3, 2).unsqueeze(-1)  # B x H x N x L -> B x H x L x N x 1
    sorted_scores, _ = scores.sort(dim=3, descending=True)  # B x H x L x N x 1
    pairwise_diff = ((scores.transpose(4, 3) - sorted_scores) ** 2).neg() / tau
    p_hat = pairwise_diff.softmax(dim=-1)
    return p_hat.squeeze(-1)


def _ref_gamma_aggregator(gamma, x, y, temperature=0.1):
    cost = torch.cdist(x, y, p=2)
    swds = (cost.unsqueeze(2) * gamma).sum(dim=(-1, -2))
    min_swds = swds.min(dim=-1, keepdim=True).values
    exp_swds = torch.exp(-temperature * (swds - min_swds))
    weights = exp_swds / exp_swds.sum(dim=-1, keepdim=True)
    gamma_weighted = gamma * weights.unsqueeze(-1).unsqueeze(-1)
    return gamma_weighted.sum(dim=2)  # [B, H, N, N]


def _ref_esp_forward(x, y, tau=1e-3, temperature=0.1):
    pu = _ref_softsort_p2(x, tau)
    pv = _ref_softsort_p2(y, tau)
    gamma = pu.transpose(-1, -2) @ pv  # [B, H, L, N, N]
    return _ref_gamma_aggregator(gamma, x=x, y=y, temperature=temperature)


def _qk(b=3, h=2, t=8, d=16, scale=1.0, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    q = scale * torch.randn(b, h, t, d, generator=gen, dtype=dtype) * d**-0.5
    k = scale * torch.randn(b, h, t, d, generator=gen, dtype=dtype) * d**-0.5
    return q, k


@pytest.mark.parametrize("tau, temperature", [(1e-3, 10.0), (1e-3, 0.1), (1e-2, 0.0),
                                              (0.5, 3.0)])
@pytest.mark.parametrize("t", [5, 8, 16])
def test_parity_with_the_authors_forward(tau, temperature, t):
    q, k = _qk(t=t, seed=t)
    ours = create_normalizer("esp", tau=tau, temperature=temperature)(q, k)
    theirs = _ref_esp_forward(q, k, tau=tau, temperature=temperature)
    assert torch.allclose(ours, theirs, atol=1e-12, rtol=0)


def test_parity_in_float32_and_gradients_match():
    q, k = _qk(dtype=torch.float32, seed=3)
    q1, k1 = q.clone().requires_grad_(), k.clone().requires_grad_()
    q2, k2 = q.clone().requires_grad_(), k.clone().requires_grad_()
    upstream = torch.randn(3, 2, 8, 8)
    (create_normalizer("esp")(q1, k1) * upstream).sum().backward()
    (_ref_esp_forward(q2, k2, temperature=10.0) * upstream).sum().backward()
    assert torch.allclose(q1.grad, q2.grad, atol=1e-4, rtol=1e-4)
    assert torch.allclose(k1.grad, k2.grad, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(q1.grad).all() and torch.isfinite(k1.grad).all()


def test_soft_sort_tends_to_the_sorting_permutation():
    x = torch.tensor([[0.3, -1.0, 2.0, 0.9]], dtype=torch.float64)
    hard = F.one_hot(x.argsort(dim=-1, descending=True), 4).to(x.dtype)  # (1, 4, 4)
    assert torch.allclose(soft_sort(x, tau=1e-3), hard, atol=1e-12)
    soft = soft_sort(x, tau=1.0)
    assert torch.allclose(soft.sum(-1), torch.ones(1, 4, dtype=x.dtype), atol=1e-14)
    assert not torch.allclose(soft, hard, atol=1e-2)


def test_marginals_are_the_soft_sort_column_sums():
    """Rows of P = sum_l w_l (columns of U_l), columns = sum_l w_l (columns of V_l): exactly."""
    q, k = _qk(seed=5)
    tau, temperature = 1e-3, 10.0
    u = soft_sort(q.transpose(-2, -1), tau)  # (B, H, d, T, T)
    v = soft_sort(k.transpose(-2, -1), tau)
    plans = slice_plans(q, k, tau)
    cost = torch.cdist(q, k)
    w = torch.softmax(-temperature * (cost.unsqueeze(-3) * plans).sum((-2, -1)), -1)  # (B, H, d)
    p = esp_plan(q, k, tau, temperature)
    assert torch.allclose(p.sum(-1), (w.unsqueeze(-1) * u.sum(-2)).sum(-2), atol=1e-13)
    assert torch.allclose(p.sum(-2), (w.unsqueeze(-1) * v.sum(-2)).sum(-2), atol=1e-13)
    assert torch.allclose(p.sum((-2, -1)), torch.full((3, 2), 8.0, dtype=p.dtype), atol=1e-12)


def test_doubly_stochastic_when_slices_are_separated():
    """Coordinates of every slice at least 0.2 apart: gap^2 / tau = 40 -> error below 1e-6."""
    b, h, t, d = 2, 2, 8, 4
    gen = torch.Generator().manual_seed(1)
    grid = 0.2 * torch.arange(t, dtype=torch.float64)  # (T,)
    q = torch.stack([grid[torch.randperm(t, generator=gen)] for _ in range(b * h * d)])
    k = torch.stack([grid[torch.randperm(t, generator=gen)] for _ in range(b * h * d)])
    q = q.reshape(b, h, d, t).transpose(-2, -1)  # (B, H, T, d)
    k = k.reshape(b, h, d, t).transpose(-2, -1) + 0.05
    p = create_normalizer("esp")(q, k)
    ones = torch.ones(b, h, t, dtype=p.dtype)
    assert torch.allclose(p.sum(-1), ones, atol=1e-6, rtol=0)
    assert torch.allclose(p.sum(-2), ones, atol=1e-6, rtol=0)


def test_marginal_error_on_gaussian_inputs_is_bounded_and_shrinks_with_tau():
    """The tolerance of the method on layer-like inputs (q, k ~ N(0, 1/d), T = 8, d = 16).

    Mean |row or column sum - 1| over 256 x 8 sums; measured (seed 7): 0.031 (tau 1e-2),
    0.010 (1e-3, the default; max 0.18), 1.4e-3 (1e-4), 1.8e-4 (1e-5), 8e-6 (1e-6)."""
    q, k = _qk(b=256, h=1, seed=7)
    errors = {}
    for tau in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        p = create_normalizer("esp", tau=tau)(q, k)
        both = torch.cat([(p.sum(-1) - 1).abs(), (p.sum(-2) - 1).abs()])
        errors[tau] = both.mean().item()
    assert errors[1e-3] < 0.02
    assert errors[1e-2] > errors[1e-3] > errors[1e-4] > errors[1e-5] > errors[1e-6]
    assert errors[1e-6] < 1e-4


def test_temperature_zero_is_the_mean_of_slice_plans():
    q, k = _qk(seed=2)
    p = create_normalizer("esp", temperature=0.0)(q, k)
    assert torch.allclose(p, slice_plans(q, k, 1e-3).mean(-3), atol=1e-14)


@pytest.mark.parametrize("kwargs, word", [({"tau": 0}, "tau"), ({"tau": -1e-3}, "tau"),
                                          ({"temperature": -1.0}, "temperature")])
def test_bad_arguments_name_the_value(kwargs, word):
    with pytest.raises(ValueError, match=word):
        create_normalizer("esp", **kwargs)


def test_timm_layer_passes_scaled_q_and_k():
    from qdsformer.models import attention_layers, attention_maps, create_vit

    torch.manual_seed(0)
    model = create_vit("qdsformer_digits", attention="esp", depth=1).eval()
    layer = attention_layers(model)[0]
    seen = {}
    layer.q_norm.register_forward_hook(lambda m, i, o: seen.__setitem__("q", o))
    layer.k_norm.register_forward_hook(lambda m, i, o: seen.__setitem__("k", o))
    maps = attention_maps(model, torch.randn(2, 1, 8, 8))
    expected = _ref_esp_forward(seen["q"] * layer.scale, seen["k"] * layer.scale,
                                temperature=10.0)
    assert torch.allclose(maps[0], expected, atol=1e-6)
