"""The one Sinkhorn kernel: parity with POT, marginals, gradients, stability, bad input."""

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qdsformer.ot import sinkhorn


def _problem(n=12, m=9, batch=(), seed=0):
    gen = torch.Generator().manual_seed(seed)
    cost = torch.rand(*batch, n, m, generator=gen, dtype=torch.float64)
    a = torch.rand(n, generator=gen, dtype=torch.float64) + 0.1
    b = torch.rand(m, generator=gen, dtype=torch.float64) + 0.1
    return cost, a / a.sum(), b / b.sum()


@pytest.mark.parametrize("method", ["log", "absorb"])
@pytest.mark.parametrize("epsilon", [0.5, 0.05, 0.01])
def test_plan_matches_pot(method, epsilon):
    cost, a, b = _problem()
    expected = ot.sinkhorn(a.numpy(), b.numpy(), cost.numpy(), epsilon, method="sinkhorn_log",
                           stopThr=1e-13, numItermax=100_000)
    res = sinkhorn(cost, a, b, epsilon=epsilon, tol=1e-12, method=method)
    np.testing.assert_allclose(res.plan.numpy(), expected, atol=1e-10)
    cost2 = ot.sinkhorn2(a.numpy(), b.numpy(), cost.numpy(), epsilon, method="sinkhorn_log",
                         stopThr=1e-13, numItermax=100_000)
    assert abs(float(res.transport_cost) - float(cost2)) < 1e-9


def test_small_epsilon_limit_is_exact_ot():
    cost, a, b = _problem(n=15, m=15, seed=3)
    exact = ot.emd2(a.numpy(), b.numpy(), cost.numpy())
    res = sinkhorn(cost, a, b, epsilon=1e-3, tol=1e-9, epsilon_scaling=0.5)
    assert 0 <= float(res.transport_cost) - exact < 5e-3  # entropic cost decreases to the exact one
    assert float(res.marginal_l1_error) < 1e-9


@pytest.mark.parametrize("method", ["log", "absorb"])
def test_batched_marginals_met_to_tol(method):
    cost, a, b = _problem(batch=(3, 2))
    res = sinkhorn(cost, a, b, epsilon=0.05, tol=1e-8, method=method)
    assert res.plan.shape == (3, 2, 12, 9)
    assert (res.plan.sum(-1) - a).abs().sum(-1).max() < 1e-12  # ends on a row step
    assert (res.plan.sum(-2) - b).abs().sum(-1).max() < 1e-8
    assert float(res.marginal_l1_error) < 1e-8
    # each batch entry equals the problem solved alone
    single = sinkhorn(cost[1, 0], a, b, epsilon=0.05, tol=1e-12)
    torch.testing.assert_close(res.plan[1, 0], single.plan, atol=1e-8, rtol=0)


@pytest.mark.parametrize("method", ["log", "absorb"])
def test_stable_at_small_epsilon_float32(method):
    cost = torch.rand(2, 64, 64)  # costs in [0, 1]
    res = sinkhorn(cost, epsilon=1e-3, tol=1e-4, n_iters=20_000, method=method,
                   epsilon_scaling=0.7)
    assert torch.isfinite(res.plan).all() and torch.isfinite(res.f).all()
    assert float(res.marginal_l1_error) < 1e-4


def test_epsilon_scaling_reaches_same_plan():
    cost, a, b = _problem(n=40, m=40, seed=1)
    plain = sinkhorn(cost, a, b, epsilon=0.005, tol=1e-10)
    scaled = sinkhorn(cost, a, b, epsilon=0.005, tol=1e-10, epsilon_scaling=0.5)
    torch.testing.assert_close(scaled.plan, plain.plan, atol=1e-8, rtol=0)
    assert scaled.half_steps > 2 * 10  # the annealing stages are counted


def test_value_is_primal_objective():
    cost, a, b = _problem()
    eps = 0.1
    res = sinkhorn(cost, a, b, epsilon=eps, tol=1e-13)
    p = res.plan
    kl = (p * torch.log(p / (a[:, None] * b[None, :]))).sum() - p.sum() + 1
    torch.testing.assert_close(res.value, res.transport_cost + eps * kl, atol=1e-10, rtol=0)


def test_one_iteration_is_softmax_and_odd_counts_end_on_rows():
    scores = torch.randn(2, 3, 8, 8)
    res = sinkhorn(-scores, epsilon=1.0, n_iters=1)
    torch.testing.assert_close(res.plan * 8, torch.softmax(scores, -1))
    res = sinkhorn(-scores, epsilon=1.0, n_iters=5)
    torch.testing.assert_close(res.plan.sum(-1) * 8, torch.ones(2, 3, 8))
    assert res.half_steps == 5


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.floats(0.2, 5.0))
def test_property_one_iteration_softmax(t, eps):
    scores = torch.randn(4, t, t, dtype=torch.float64) * 3
    res = sinkhorn(-scores, epsilon=eps, n_iters=1)
    torch.testing.assert_close(res.plan * t, torch.softmax(scores / eps, -1))


def _grad_loss(cost, a, b, grad, method="log"):
    weights = torch.linspace(-1, 1, cost.numel(), dtype=cost.dtype).reshape(cost.shape)
    res = sinkhorn(cost, a, b, epsilon=0.1, tol=1e-13, grad=grad, method=method)
    return (res.plan * weights).sum() + res.transport_cost.sum() + res.value.sum()


def test_gradient_modes_agree_and_match_finite_differences():
    cost, a, b = _problem(n=6, m=5, batch=(2,))
    grads = {}
    for grad, method in [("unroll", "log"), ("unroll", "absorb"), ("implicit", "log")]:
        c, aa, bb = (t.clone().requires_grad_(True) for t in (cost, a, b))
        _grad_loss(c, aa, bb, grad, method).backward()
        # weights live on the simplex: compare gradients along it (mean removed)
        grads[grad, method] = (c.grad, aa.grad - aa.grad.mean(), bb.grad - bb.grad.mean())
    ref = grads["unroll", "log"]
    for key, got in grads.items():
        for x, y in zip(got, ref):
            torch.testing.assert_close(x, y, atol=1e-4, rtol=0, msg=str(key))
    c = cost.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: _grad_loss(t, a, b, "implicit"), (c,),
                                    eps=1e-6, atol=1e-5)


def test_implicit_gradient_graph_does_not_grow_with_iterations():
    cost, a, b = _problem(n=6, m=5)

    def graph_size(n_iters, grad):
        c = cost.clone().requires_grad_(True)
        res = sinkhorn(c, a, b, epsilon=0.1, n_iters=n_iters, grad=grad)
        seen, stack = set(), [res.plan.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            stack.extend(fn for fn, _ in node.next_functions)
        return len(seen)

    assert graph_size(5, "implicit") == graph_size(301, "implicit")
    assert graph_size(301, "unroll") > 10 * graph_size(5, "unroll")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"a": torch.tensor([0.5, -0.1, 0.6])}, "negative"),
        ({"a": torch.ones(4) / 4}, "entries"),
        ({"b": torch.ones(2) / 2}, "entries"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": -1.0}, "epsilon"),
        ({"cost_matrix": torch.tensor([[0.0, float("nan")], [1.0, 0.0]])}, "NaN"),
        ({"cost_matrix": torch.ones(3)}, "shape"),
        ({"a": torch.ones(3), "b": torch.ones(3) / 3}, "mass"),
        ({"n_iters": None, "tol": None}, "n_iters"),
        ({"method": "fast"}, "method"),
        ({"grad": "magic"}, "grad"),
        ({"epsilon_scaling": 1.5}, "epsilon_scaling"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"cost_matrix": torch.rand(3, 3), "n_iters": 5} | kwargs
    with pytest.raises(ValueError, match=match):
        sinkhorn(**args)


def test_absorb_recovers_from_underflow_like_log_domain(monkeypatch):
    """A column far from all rows underflows the cached kernel at eps 1e-3 (float32): the
    absorb updates redo that half-step in the log domain and agree with pure log updates."""
    import sys

    module = sys.modules["qdsformer.ot.sinkhorn"]
    status = module._AbsorbUpdates._status
    flags = []

    def spy(self, sums, scaling, target):
        flags.append(status(self, sums, scaling, target))
        return flags[-1]

    monkeypatch.setattr(module._AbsorbUpdates, "_status", spy)
    cost = torch.rand(2, 64, 64, generator=torch.Generator().manual_seed(0))
    cost[:, :, 0] += 5.0
    absorb = sinkhorn(cost, epsilon=1e-3, tol=1e-4, n_iters=20_000, method="absorb")
    log = sinkhorn(cost, epsilon=1e-3, tol=1e-4, n_iters=20_000, method="log")
    assert any(underflow for underflow, _ in flags)  # the fallback ran
    assert torch.isfinite(absorb.plan).all() and float(absorb.marginal_l1_error) < 1e-4
    torch.testing.assert_close(absorb.plan, log.plan, atol=5e-5, rtol=0)


def test_warm_start_from_converged_potentials():
    cost, a, b = _problem()
    cold = sinkhorn(cost, a, b, epsilon=0.02, tol=1e-10)
    warm = sinkhorn(cost, a, b, epsilon=0.02, tol=1e-10, init=(cold.f, cold.g))
    assert warm.half_steps < 10 < cold.half_steps
    torch.testing.assert_close(warm.plan, cold.plan, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="init"):
        sinkhorn(cost, a, b, n_iters=3, init=(cold.f[:3], cold.g))


@pytest.mark.parametrize("method", ["log", "absorb"])
def test_zero_weights(method):
    """Zero-mass points get empty rows / columns; the rest matches POT's log-domain solver."""
    cost, a, b = _problem(n=10, m=8, seed=2)
    a = a.clone()
    b = b.clone()
    a[3] = 0.0
    b[5] = 0.0
    a, b = a / a.sum(), b / b.sum()
    res = sinkhorn(cost, a, b, epsilon=0.05, tol=1e-11, method=method)
    assert torch.isfinite(res.plan).all()
    assert float(res.plan[3].sum()) == 0.0 and float(res.plan[:, 5].sum()) == 0.0
    keep_r, keep_c = a > 0, b > 0
    expected = ot.sinkhorn(a[keep_r].numpy(), b[keep_c].numpy(),
                           cost[keep_r][:, keep_c].numpy(), 0.05, method="sinkhorn_log",
                           stopThr=1e-13, numItermax=100_000)
    np.testing.assert_allclose(res.plan[keep_r][:, keep_c].numpy(), expected, atol=1e-10)
