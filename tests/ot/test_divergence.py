"""Entropic OT value and Sinkhorn divergence: POT parity, non-negativity, zero on equal inputs."""

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qdsformer.ot import entropic_ot, pairwise_cost, sinkhorn_divergence


def _clouds(n=30, m=25, d=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randn(m, d, generator=gen, dtype=torch.float64) * 0.7 + 0.5
    a = torch.rand(n, generator=gen, dtype=torch.float64) + 0.2
    b = torch.rand(m, generator=gen, dtype=torch.float64) + 0.2
    return x, y, a / a.sum(), b / b.sum()


def _pot_value(x, y, a, b, eps):
    """<P, C> + eps KL(P | a b^T) from POT's plan (an independent solver)."""
    c = ot.dist(x.numpy(), y.numpy())  # squared Euclidean
    plan = ot.sinkhorn(a.numpy(), b.numpy(), c, eps, method="sinkhorn_log", stopThr=1e-12,
                       numItermax=20_000)
    ab = np.outer(a.numpy(), b.numpy())
    return float((plan * c).sum() + eps * (plan * np.log(plan / ab)).sum())


@pytest.mark.parametrize("eps", [1.0, 0.3])
def test_entropic_ot_and_divergence_match_pot(eps):
    x, y, a, b = _clouds(n=20, m=15)
    ours = entropic_ot(x, y, a, b, epsilon=eps, tol=1e-12)
    assert abs(float(ours) - _pot_value(x, y, a, b, eps)) < 1e-8
    div = sinkhorn_divergence(x, y, a, b, epsilon=eps, tol=1e-12)
    expected = _pot_value(x, y, a, b, eps) - 0.5 * (
        _pot_value(x, x, a, a, eps) + _pot_value(y, y, b, b, eps))
    assert abs(float(div) - expected) < 1e-8


def test_pairwise_costs():
    x, y, _, _ = _clouds(n=5, m=4, d=3)
    diff = x[:, None, :] - y[None, :, :]
    torch.testing.assert_close(pairwise_cost(x, y), (diff ** 2).sum(-1))
    torch.testing.assert_close(pairwise_cost(x, y, cost_fn="euclidean"), diff.norm(dim=-1))
    torch.testing.assert_close(pairwise_cost(x, y, cost_fn="l1"), diff.abs().sum(-1))
    with pytest.raises(ValueError, match="cost_fn must be one of"):
        pairwise_cost(x, y, cost_fn="cosine")
    with pytest.raises(ValueError, match="dimension"):
        pairwise_cost(x, y[:, :2])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1, 2]), st.floats(0.25, 2.0))
def test_divergence_nonnegative_and_zero_on_identical(seed, p, eps):
    x, y, a, b = _clouds(n=8, m=6, seed=seed)
    assert float(sinkhorn_divergence(x, y, a, b, epsilon=eps, p=p, tol=1e-9)) >= -1e-8
    # the same cloud twice: all three terms run the symmetric mode, S is 0 exactly
    assert float(sinkhorn_divergence(x, x.clone(), a, a, epsilon=eps, p=p)) == 0.0


def test_divergence_batched_and_separates_shifted_clouds():
    """x vs a translate of x is self-transport up to potentials, slow for alternating steps at
    eps 0.01 (tol 1e-9 is not reached in 50,000 half-steps): tol 1e-4 with epsilon scaling,
    whose values agree with converged ones to ~1e-6 (tests/ot/test_monge.py)."""
    x, _, _, _ = _clouds(n=20, m=20)
    batch_x = torch.stack([x, x])  # (2, n, d)
    batch_y = torch.stack([x + 0.5, x + 1.0])
    opts = dict(epsilon=0.01, tol=1e-4, epsilon_scaling=0.5)
    div = sinkhorn_divergence(batch_x, batch_y, **opts)
    assert div.shape == (2,)
    for k in range(2):  # each batch entry as its own problem
        single = sinkhorn_divergence(batch_x[k], batch_y[k], **opts)
        assert abs(float(div[k] - single)) < 1e-6
    assert float(sinkhorn_divergence(x, x.clone(), epsilon=0.01, tol=1e-9)) == 0.0
    # for a pure translation by t, S_eps -> |t|^2 = d t^2 as eps -> 0 (here d = 2)
    assert float(div[0]) == pytest.approx(0.5, rel=1e-3)
    assert float(div[1]) == pytest.approx(2.0, rel=1e-3)


def test_envelope_gradient_matches_other_modes_and_finite_differences():
    x, y, a, b = _clouds(n=6, m=5)
    grads = {}
    for mode in ("envelope", "implicit", "unroll"):
        xx = x.clone().requires_grad_(True)
        sinkhorn_divergence(xx, y, a, b, epsilon=0.5, tol=1e-12, grad=mode).backward()
        grads[mode] = xx.grad
    torch.testing.assert_close(grads["envelope"], grads["implicit"], atol=1e-8, rtol=0)
    torch.testing.assert_close(grads["envelope"], grads["unroll"], atol=1e-8, rtol=0)
    xx = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: sinkhorn_divergence(t, y, a, b, epsilon=0.5, tol=1e-12), (xx,), eps=1e-6,
        atol=1e-6)


def test_divergence_bad_input():
    x, y, a, b = _clouds()
    with pytest.raises(ValueError, match="negative"):
        sinkhorn_divergence(x, y, -a, b)
    with pytest.raises(ValueError, match="entries"):
        sinkhorn_divergence(x, y, a[:-1], b)
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_divergence(x, y, epsilon=0.0)
    with pytest.raises(ValueError, match="NaN"):
        sinkhorn_divergence(x * float("nan"), y)
    with pytest.raises(ValueError, match="p must be"):
        sinkhorn_divergence(x, y, p=0)


def test_fixed_iteration_count_and_unconverged_warning():
    import warnings

    from qdsformer.ot import ConvergenceWarning, sinkhorn

    x, y, a, b = _clouds(n=10, m=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fixed iteration count is intended: no warning
        fixed = entropic_ot(x, y, a, b, epsilon=0.05, tol=None, n_iters=7)
        direct = sinkhorn(pairwise_cost(x, y), a, b, epsilon=0.05, n_iters=7)
    torch.testing.assert_close(fixed, direct.value)
    with pytest.warns(ConvergenceWarning, match="above tol=1e-06"):
        entropic_ot(x, y, a, b, epsilon=0.05, n_iters=3)  # tol "auto" = 1e-6 is not reached
