"""sinkhorn_potentials: the attention path's lean entry equals the full kernel's potentials."""

import pytest
import torch

from qdsformer.ot.sinkhorn import sinkhorn, sinkhorn_potentials


@pytest.mark.parametrize("n_iters", [1, 3, 7])
@pytest.mark.parametrize("epsilon", [1.0, 0.3])
def test_potentials_equal_the_full_kernel(n_iters, epsilon):
    cost = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    full = sinkhorn(cost, epsilon=epsilon, n_iters=n_iters, method="log")
    f, g = sinkhorn_potentials(cost, epsilon=epsilon, n_iters=n_iters)
    torch.testing.assert_close(f, full.f, atol=1e-12, rtol=0)
    torch.testing.assert_close(g, full.g, atol=1e-12, rtol=0)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match=r"got 0, 3"):
        sinkhorn_potentials(torch.zeros(2, 2), epsilon=0, n_iters=3)
    with pytest.raises(ValueError, match=r"\(\.\.\., n, m\)"):
        sinkhorn_potentials(torch.zeros(3))
