"""Monge gap: ~0 for optimal maps, clearly > 0 otherwise; the map fitter reduces its loss."""

import math

import pytest
import torch

from qdsformer.ot import fit_monge_map, monge_gap


def _cloud(n=150, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("eps", [0.01, 0.002])
def test_gap_near_zero_for_translation_and_positive_for_bad_maps(eps):
    """OT between x and T(x) for a near-optimal T is as slow for Sinkhorn as self-transport
    (x vs x + t is self-transport up to potentials): 50,000 half-steps stay above tol 1e-6.
    tol 1e-4 with epsilon scaling converges in <= 7,500 half-steps; measured against runs to
    1e-7, the value is then off by < 6e-7, inside the 1e-6 slack below."""
    x = _cloud(n=100)
    n = x.shape[0]
    opts = dict(epsilon=eps, tol=1e-4, epsilon_scaling=0.5)
    translation = monge_gap(x, x + torch.tensor([1.5, -2.0], dtype=torch.float64), **opts)
    # the entropic term can exceed the exact OT cost by at most eps * log n
    assert -eps * math.log(n) - 1e-6 <= float(translation) <= 1e-6
    # gradient of a convex function (x -> 2x + 1) is optimal for the squared cost as well
    scaling = monge_gap(x, 2 * x + 1, **opts)
    assert abs(float(scaling)) <= eps * math.log(n) + 1e-6
    # reflection x -> -x and a rotation by 90 degrees move mass further than needed
    assert float(monge_gap(x, -x, **opts)) > 5.0
    rotation = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    assert float(monge_gap(x, x @ rotation, **opts)) > 2.0


def test_gap_of_permuted_pairs_equals_displacement_excess():
    """T sends x_i to x_sigma(i): the image set is x itself, so W = 0 and the gap = mean cost."""
    x = _cloud(n=40)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(1))
    gap = monge_gap(x, x[perm], epsilon=1e-3)
    mean_cost = ((x - x[perm]) ** 2).sum(-1).mean()
    assert float(gap) == pytest.approx(float(mean_cost), abs=1e-3 * math.log(40) + 1e-6)


def test_gap_bad_input():
    x = _cloud(n=10)
    with pytest.raises(ValueError, match="pair"):
        monge_gap(x, x[:5])
    with pytest.raises(ValueError, match="epsilon"):
        monge_gap(x, x, epsilon=-1.0)


def test_fit_monge_map_learns_a_translation():
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(256, 2, generator=gen)
    target = source + torch.tensor([2.0, 0.0])
    fit = fit_monge_map(source, target, lam=1.0, epsilon=0.1, steps=60, lr=2e-2,
                        batch_size=32, hidden=16)
    assert sum(fit.loss[-10:]) < 0.2 * sum(fit.loss[:10])
    with torch.no_grad():
        moved = fit.map(source)
    error = ((moved - target) ** 2).sum(-1).mean()
    assert float(error) < 0.1  # started at 4.0 (identity map)
    with pytest.raises(ValueError, match="lam"):
        fit_monge_map(source, target, lam=-1.0)
