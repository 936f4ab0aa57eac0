"""Issue 16, API edges of the library: empty batches, half-precision QR, implicit gradients at
tiny epsilon, convergence warnings, epsilon scaling that never costs more, per-sub-problem warm
starts of the Sinkhorn divergence, invalid SNS tolerances."""

import warnings

import pytest
import torch

from qdsformer.attention import create_normalizer
from qdsformer.ot import (
    ConvergenceWarning,
    ImplicitGradientWarning,
    pairwise_cost,
    sinkhorn,
    sinkhorn_divergence,
    sns,
)


def _problem(n=12, m=9, seed=0):  # the generator of the POT-parity tests in tests/ot
    gen = torch.Generator().manual_seed(seed)
    cost = torch.rand(n, m, generator=gen, dtype=torch.float64)
    a = torch.rand(n, generator=gen, dtype=torch.float64) + 0.1
    b = torch.rand(m, generator=gen, dtype=torch.float64) + 0.1
    return cost, a / a.sum(), b / b.sum()


@pytest.mark.parametrize("kwargs", [{"n_iters": 3}, {"tol": 1e-6}, {"n_iters": 3, "grad": "implicit"},
                                    {"tol": 1e-6, "grad": "envelope", "epsilon_scaling": 0.5}])
def test_sinkhorn_empty_batch_is_an_empty_result(kwargs):
    cost = torch.rand(0, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    res = sinkhorn(cost, epsilon=0.1, **kwargs)
    assert res.plan.shape == (0, 3, 4, 5) and res.f.shape == (0, 3, 4)
    assert res.g.shape == (0, 3, 5) and res.value.shape == (0, 3) and res.half_steps == 0
    (res.value.sum() + res.plan.sum()).backward()
    assert cost.grad.shape == cost.shape


@pytest.mark.parametrize("name, kwargs", [("sinkhorn", {"n_iters": 3}),
                                          ("qontot", {"n_layers": 1, "n_aux_qubits": 1})])
def test_attention_empty_batch_is_an_empty_result(name, kwargs):
    scores = torch.randn(0, 2, 4, 4, requires_grad=True)
    attention = create_normalizer(name, **kwargs)(scores)
    assert attention.shape == (0, 2, 4, 4)
    attention.sum().backward()
    assert scores.grad.shape == scores.shape


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_qr_half_inputs_are_computed_in_float32(dtype):
    scores = torch.randn(2, 2, 5, 5).to(dtype)  # full rank: no noise, deterministic
    norm = create_normalizer("qr")
    out = norm(scores)
    assert out.dtype == dtype
    torch.testing.assert_close(out, norm(scores.float()).to(dtype), atol=0, rtol=0)
    ones = torch.ones(2, 2, 5)
    torch.testing.assert_close(out.float().sum(-1), ones, atol=2e-2, rtol=0)
    torch.testing.assert_close(out.float().sum(-2), ones, atol=2e-2, rtol=0)


def test_implicit_gradient_at_tiny_epsilon_falls_back_to_the_envelope():
    # two well separated groups: at epsilon 1e-4 the plan's cross entries underflow to 0, the
    # transport graph falls apart and the implicit system is singular
    gen = torch.Generator().manual_seed(0)
    cost = (1.0 - torch.eye(4, dtype=torch.float64)).repeat_interleave(2, 0)[:, :4] \
        + 0.01 * torch.rand(8, 4, generator=gen, dtype=torch.float64)
    cost.requires_grad_(True)
    kwargs = {"epsilon": 1e-4, "tol": 1e-9, "n_iters": 5000}
    implicit = sinkhorn(cost, grad="implicit", **kwargs).value
    envelope = sinkhorn(cost, grad="envelope", **kwargs).value
    with pytest.warns(ImplicitGradientWarning, match="epsilon=0.0001.*grad='unroll'"):
        (got,) = torch.autograd.grad(implicit, cost)
    (expected,) = torch.autograd.grad(envelope, cost)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_sinkhorn_warns_once_when_stopped_short_of_tol():
    cost, a, b = _problem()
    with pytest.warns(ConvergenceWarning) as record:
        sinkhorn(cost, a, b, epsilon=0.01, tol=1e-12, n_iters=11)
    assert len(record) == 1
    assert "after 11 half-steps with marginal error" in str(record[0].message)
    assert "above tol=1e-12" in str(record[0].message)


def test_no_convergence_warning_without_tol_or_on_the_attention_path():
    cost, a, b = _problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sinkhorn(cost, a, b, epsilon=0.01, n_iters=11)  # a fixed count is intended
        sinkhorn(cost, a, b, epsilon=0.5, tol=1e-8)  # converged
        create_normalizer("sinkhorn", n_iters=3)(torch.randn(2, 2, 4, 4))


def test_sns_warns_when_stopped_short_of_tol():
    cost, a, b = _problem()
    with pytest.warns(ConvergenceWarning, match=r"sns stopped after 1 Newton steps .* above "
                                                r"tol=1e-12"):
        sns(cost, a, b, epsilon=0.01, tol=1e-12, warmup_rounds=1, max_newton=1)


@pytest.mark.parametrize("kwargs, match", [({"tol": -1}, "tol must be a finite number > 0"),
                                           ({"tol": float("nan")}, "tol must be"),
                                           ({"cg_rtol": 0}, "cg_rtol must be"),
                                           ({"cg_max_iters": 0}, "cg_max_iters must be"),
                                           ({"max_halvings": 0}, "max_halvings must be")])
def test_sns_invalid_tolerances_and_caps_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sns(torch.rand(4, 4), **kwargs)


POT_PROBLEMS = [  # (problem, epsilon, tol) of the POT-parity tests in tests/ot/test_sinkhorn.py
    (_problem(), 0.5, 1e-12), (_problem(), 0.05, 1e-12), (_problem(), 0.01, 1e-12),
    (_problem(15, 15, seed=3), 1e-3, 1e-9), (_problem(40, 40, seed=1), 0.005, 1e-10),
]


@pytest.mark.parametrize("method", ["log", "absorb"])
@pytest.mark.parametrize("scaling", [0.5, 0.7, 0.9])
@pytest.mark.parametrize("index", range(len(POT_PROBLEMS)))
def test_epsilon_scaling_never_costs_more_iterations(index, scaling, method):
    (cost, a, b), epsilon, tol = POT_PROBLEMS[index]
    kwargs = {"epsilon": epsilon, "tol": tol, "n_iters": 100_000, "method": method}
    plain = sinkhorn(cost, a, b, **kwargs)
    scaled = sinkhorn(cost, a, b, epsilon_scaling=scaling, **kwargs)
    assert scaled.half_steps <= plain.half_steps
    assert float(scaled.marginal_l1_error) < tol
    torch.testing.assert_close(scaled.plan, plain.plan, atol=1e-7, rtol=0)


def test_epsilon_scaling_still_pays_where_epsilon_is_tiny():
    (cost, a, b), epsilon, tol = POT_PROBLEMS[3]
    plain = sinkhorn(cost, a, b, epsilon=epsilon, tol=tol)
    scaled = sinkhorn(cost, a, b, epsilon=epsilon, tol=tol, epsilon_scaling=0.5)
    assert scaled.half_steps < 0.6 * plain.half_steps  # measured 2159 vs 4003


def _clouds():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(5, 2, generator=gen, dtype=torch.float64) + 1.0
    return x, y


def test_sinkhorn_divergence_warm_starts_per_sub_problem():
    x, y = _clouds()
    eps, tol = 0.5, 1e-6  # the self-terms x-x, y-y converge slowly (symmetric problems)
    cold = sinkhorn_divergence(x, y, epsilon=eps, tol=tol)
    pots = {key: sinkhorn(pairwise_cost(u, v, cost_fn="sqeuclidean"), epsilon=eps, tol=tol)
            for key, (u, v) in {"xy": (x, y), "xx": (x, x), "yy": (y, y)}.items()}
    init = {key: (res.f, res.g) for key, res in pots.items()}
    warm = sinkhorn_divergence(x, y, epsilon=eps, tol=tol, init=init)
    torch.testing.assert_close(warm, cold, atol=1e-5, rtol=0)
    as_tuple = sinkhorn_divergence(x, y, epsilon=eps, tol=tol,
                                   init=(init["xy"], None, init["yy"]))
    torch.testing.assert_close(as_tuple, cold, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="one pair cannot warm-start three problems"):
        sinkhorn_divergence(x, y, epsilon=eps, tol=tol, init=init["xy"])
    with pytest.raises(ValueError, match="init keys"):
        sinkhorn_divergence(x, y, epsilon=eps, tol=tol, init={"yx": init["xy"]})

