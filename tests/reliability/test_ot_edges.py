"""Issue 16, OT API edges: one-sided marginals are validated, zero weights give finite values,
a 0 x 0 cost gets a clear error."""

import pytest
import torch

from qdsformer.ot import sinkhorn


def test_one_sided_marginal_of_wrong_mass_is_refused():
    cost = torch.rand(4, 5, dtype=torch.float64)
    for kwargs in ({"a": torch.full((4,), 0.5, dtype=torch.float64)},
                   {"b": torch.full((5,), 0.4, dtype=torch.float64)}):
        with pytest.raises(ValueError, match="total mass 1"):
            sinkhorn(cost, epsilon=0.1, tol=1e-9, **kwargs)


def test_one_sided_marginal_of_mass_one_is_matched():
    cost = torch.rand(4, 5, dtype=torch.float64)
    a = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    res = sinkhorn(cost, a=a, epsilon=0.1, tol=1e-10, n_iters=10000)
    assert torch.allclose(res.plan.sum(-1), a, atol=1e-8)
    assert torch.allclose(res.plan.sum(-2), torch.full((5,), 0.2, dtype=torch.float64), atol=1e-8)


def test_zero_weights_give_a_finite_value_equal_to_dropping_the_point():
    cost = torch.rand(4, 5, dtype=torch.float64)
    a = torch.tensor([0.0, 0.5, 0.5, 0.0], dtype=torch.float64)
    res = sinkhorn(cost, a=a, epsilon=0.1, tol=1e-11, n_iters=20000)
    assert torch.isfinite(res.value)
    kept = sinkhorn(cost[1:3], a=a[1:3], epsilon=0.1, tol=1e-11, n_iters=20000)
    assert torch.allclose(res.value, kept.value, atol=1e-8)


def test_empty_cost_is_a_clear_error():
    with pytest.raises(ValueError, match="n, m >= 1"):
        sinkhorn(torch.zeros(0, 0), epsilon=0.1, n_iters=5)
