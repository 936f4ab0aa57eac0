"""Sinkhorn-Newton-Sparse: machine-accuracy marginals in few Newton steps, same plan as Sinkhorn."""

import pytest
import torch

from qdsformer.ot import sinkhorn, sns


def test_sns_reaches_1e10_on_random_assignment():
    gen = torch.Generator().manual_seed(0)
    n = 80
    cost = torch.rand(n, n, generator=gen, dtype=torch.float64)
    res = sns(cost, epsilon=1 / 300, tol=1e-10)
    assert float(res.marginal_l1_error) < 1e-10
    assert res.sinkhorn_rounds == 20
    assert 1 <= res.newton_iters <= 15
    assert res.history[-1] < 1e-10 < res.history[0]
    reference = sinkhorn(cost, epsilon=1 / 300, tol=1e-12, method="absorb")
    torch.testing.assert_close(res.plan, reference.plan, atol=1e-11, rtol=0)


def test_sns_nonuniform_marginals_float32_cost():
    gen = torch.Generator().manual_seed(1)
    cost = torch.rand(40, 30, generator=gen)
    a = torch.rand(40, generator=gen, dtype=torch.float64) + 0.1
    b = torch.rand(30, generator=gen, dtype=torch.float64) + 0.1
    a, b = a / a.sum(), b / b.sum()
    res = sns(cost, a, b, epsilon=0.01, tol=1e-10, keep=15)
    assert res.plan.dtype == torch.float64
    assert float(res.marginal_l1_error) < 1e-10
    assert (res.plan.sum(-1) - a.double()).abs().sum() < 1e-10


def test_sns_bad_input():
    with pytest.raises(ValueError, match="one problem"):
        sns(torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match="negative"):
        sns(torch.rand(3, 3), a=torch.tensor([0.5, 0.6, -0.1]))
    with pytest.raises(ValueError, match="epsilon"):
        sns(torch.rand(3, 3), epsilon=0)
    with pytest.raises(ValueError, match="masses differ"):
        sns(torch.rand(2, 2), a=torch.tensor([0.5, 0.5]),
            b=torch.tensor([0.5, 0.5 + 1e-8], dtype=torch.float64))
    with pytest.raises(ValueError, match="keep"):
        sns(torch.rand(3, 3), keep=0)
