"""The symmetric mode of the Sinkhorn kernel (self-transport): convergence, values, gradients.

Parity: the self-transport value against the alternating kernel where that converges and
against POT; the Sinkhorn divergence value and gradient against GeomLoss's own symmetric loop
(``sinkhorn_loop`` with its "debias" self terms, run at a fixed epsilon to convergence).
"""

import ot
import pytest
import torch
from geomloss._legacy.sinkhorn_divergence import sinkhorn_cost, sinkhorn_loop
from geomloss._legacy.sinkhorn_samples import softmin_tensorized

from qdsformer.ot import ConvergenceWarning, pairwise_cost, sinkhorn, sinkhorn_divergence


def _cloud(n=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    a = torch.rand(n, generator=gen, dtype=torch.float64) + 0.2
    return x, a / a.sum()


def _marginal_error(plan, a):
    return float((plan.sum(-1) - a).abs().sum() + (plan.sum(-2) - a).abs().sum())


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("eps", [0.05, 0.01, 0.002])
def test_self_transport_reaches_1e_9_within_200_updates(eps, seed):
    x, a = _cloud(seed=seed)
    cost = pairwise_cost(x, x)  # (30, 30), squared Euclidean
    res = sinkhorn(cost, a, a, epsilon=eps, tol=1e-9, n_iters=200, symmetric=True)
    assert res.half_steps < 60  # measured: 22 to 24 updates on these clouds
    assert _marginal_error(res.plan, a) < 1e-9
    torch.testing.assert_close(res.plan, res.plan.T, rtol=0, atol=0)
    torch.testing.assert_close(res.f, res.g, rtol=0, atol=0)


def test_alternating_steps_do_not_converge_on_self_transport():
    """Why the mode exists: 4,000 alternating half-steps stay above 1e-9 at eps 0.01."""
    x, a = _cloud()
    with pytest.warns(ConvergenceWarning, match=r"after 4000 half-steps with marginal error"):
        res = sinkhorn(pairwise_cost(x, x), a, a, epsilon=0.01, tol=1e-9, n_iters=4000,
                       method="log")
    assert _marginal_error(res.plan, a) > 1e-7


@pytest.mark.parametrize("eps", [0.5, 0.05])
def test_self_transport_value_matches_alternating_kernel_and_pot(eps):
    x, a = _cloud(n=20)
    cost = pairwise_cost(x, x)
    sym = sinkhorn(cost, a, a, epsilon=eps, tol=1e-11, n_iters=200, symmetric=True)
    alt = sinkhorn(cost, a, a, epsilon=eps, tol=1e-11, n_iters=20_000, method="log")
    assert abs(float(sym.value - alt.value)) < 1e-10
    pot = ot.sinkhorn(a.numpy(), a.numpy(), cost.numpy(), eps, method="sinkhorn_log",
                      stopThr=1e-13, numItermax=100_000)
    torch.testing.assert_close(sym.plan, torch.from_numpy(pot), rtol=0, atol=1e-9)


def _geomloss_divergence(x, y, a, b, eps):
    """S_eps from GeomLoss's symmetric loop, 2,000 updates at a fixed eps (its cost: C)."""
    def cost(u, v):
        return ((u.unsqueeze(-2) - v.unsqueeze(-3)) ** 2).sum(-1)  # (1, n, m)

    x, y, a, b = x[None], y[None], a[None], b[None]
    potentials = sinkhorn_loop(softmin_tensorized, a.log(), b.log(), cost(x, x.detach()),
                               cost(y, y.detach()), cost(x, y.detach()), cost(y, x.detach()),
                               [eps] * 2000, None, debias=True)
    return sinkhorn_cost(eps, None, a, b, *potentials, batch=True)[0]


@pytest.mark.parametrize("grad", ["envelope", "implicit", "unroll"])
@pytest.mark.parametrize("eps", [0.05, 0.01])
def test_divergence_value_and_gradient_match_geomloss(eps, grad):
    """Tolerance: 1e-9 on the value and the gradient in x (float64; both solvers converged)."""
    x, a = _cloud(n=25, seed=2)
    y, b = _cloud(n=20, seed=3)
    y = y * 0.8 + 0.3
    xs = x.clone().requires_grad_(True)
    ours = sinkhorn_divergence(xs, y, a, b, epsilon=eps, tol=1e-11, grad=grad)
    (ours_grad,) = torch.autograd.grad(ours, xs)
    xg = x.clone().requires_grad_(True)
    theirs = _geomloss_divergence(xg, y, a, b, eps)
    (theirs_grad,) = torch.autograd.grad(theirs, xg)
    assert abs(float((ours - theirs).detach())) < 1e-9
    torch.testing.assert_close(ours_grad, theirs_grad, rtol=0, atol=1e-9)


def test_implicit_gradient_of_potential_matches_unrolled_and_finite_differences():
    x, a = _cloud(n=12, seed=4)
    cost = pairwise_cost(x, x)
    weights = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64)

    def loss(c, w, grad):  # the potentials themselves, not only the value
        res = sinkhorn(c, w, w, epsilon=0.05, tol=1e-13, n_iters=400, symmetric=True, grad=grad)
        return (res.f * weights).sum()

    grads = {}
    for grad in ("implicit", "unroll"):
        c, w = cost.clone().requires_grad_(True), a.clone().requires_grad_(True)
        grads[grad] = torch.autograd.grad(loss(c, w, grad), (c, w))
    for got, want in zip(grads["implicit"], grads["unroll"]):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-8)
    step = 1e-6
    bump = torch.zeros_like(cost)
    bump[2, 5] = bump[5, 2] = step  # the cost of a cloud with itself moves symmetrically
    numeric = (loss(cost + bump, a, "implicit") - loss(cost - bump, a, "implicit")) / (2 * step)
    analytic = grads["implicit"][0][2, 5] + grads["implicit"][0][5, 2]
    assert abs(float(numeric - analytic)) < 1e-6


def test_epsilon_scaling_and_warm_start_reach_the_same_fixed_point():
    x, a = _cloud()
    cost = pairwise_cost(x, x)
    cold = sinkhorn(cost, a, a, epsilon=0.002, tol=1e-10, n_iters=200, symmetric=True)
    annealed = sinkhorn(cost, a, a, epsilon=0.002, tol=1e-10, n_iters=200, symmetric=True,
                        epsilon_scaling=0.5)
    warm = sinkhorn(cost, a, a, epsilon=0.002, tol=1e-10, n_iters=200, symmetric=True,
                    init=(cold.f, cold.g))
    assert warm.half_steps == 0  # the converged potential already meets tol
    for res in (annealed, warm):
        torch.testing.assert_close(res.f, cold.f, rtol=0, atol=1e-8)


def test_batched_self_transport():
    x = torch.stack([_cloud(seed=s)[0] for s in range(3)])  # (3, 30, 2)
    a = torch.stack([_cloud(seed=s)[1] for s in range(3)])  # (3, 30)
    res = sinkhorn(pairwise_cost(x, x), a, a, epsilon=0.01, tol=1e-9, n_iters=200,
                   symmetric=True)
    for k in range(3):
        single = sinkhorn(pairwise_cost(x[k], x[k]), a[k], a[k], epsilon=0.01, tol=1e-9,
                          n_iters=200, symmetric=True)
        assert abs(float(res.value[k] - single.value)) < 1e-9


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(cost=torch.rand(4, 5, dtype=torch.float64), a=None),
     "symmetric=True needs a square cost (n, n), got shape (4, 5)"),
    (dict(cost=torch.tensor([[0.0, 1.0], [2.0, 0.0]], dtype=torch.float64)),
     "symmetric=True needs a symmetric cost, max |C - C^T| is 1"),
    (dict(b=torch.tensor([0.4, 0.6], dtype=torch.float64)),
     "symmetric=True transports a onto itself: pass b=None or b equal to a"),
    (dict(method="absorb"),
     "symmetric=True runs log-domain updates; method must be 'auto' or 'log', got 'absorb'"),
    (dict(symmetric="yes"), "symmetric must be True or False, got 'yes'"),
])
def test_symmetric_bad_input(kwargs, message):
    call = dict(cost=torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64),
                a=torch.tensor([0.5, 0.5], dtype=torch.float64), b=None, method="auto",
                symmetric=True)
    call.update(kwargs)
    cost = call.pop("cost")
    with pytest.raises(ValueError) as info:
        sinkhorn(cost, epsilon=0.1, tol=1e-9, n_iters=50, **call)
    assert str(info.value) == message
