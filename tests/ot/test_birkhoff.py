"""Birkhoff projection: matches a general QP solver, idempotent, doubly stochastic, >= 0."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from qdsformer.ot import birkhoff_projection
from qdsformer.ot.birkhoff import doubly_stochastic_error, project_affine_doubly


def _qp_projection(m: np.ndarray) -> np.ndarray:
    """min ||X - M||^2 s.t. X >= 0, X 1 = 1, X^T 1 = 1, by scipy's SLSQP (independent solver)."""
    n = m.shape[0]
    rows = np.kron(np.eye(n), np.ones((1, n)))  # X 1 on vec(X) row-major
    cols = np.kron(np.ones((1, n)), np.eye(n))  # X^T 1
    eq = np.vstack([rows, cols])[:-1]  # one equality is implied by the others: drop it
    res = minimize(
        lambda v: 0.5 * np.sum((v - m.ravel()) ** 2),
        x0=np.full(n * n, 1.0 / n),
        jac=lambda v: v - m.ravel(),
        constraints=[{"type": "eq", "fun": lambda v: eq @ v - 1.0, "jac": lambda v: eq}],
        bounds=[(0.0, None)] * (n * n),
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success, res.message
    return res.x.reshape(n, n)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_matches_scipy_qp(n):
    gen = torch.Generator().manual_seed(n)
    batch = torch.randn(6, n, n, generator=gen, dtype=torch.float64)
    batch[0] = torch.softmax(batch[0] * 3, dim=-1)  # a row-stochastic input, as from softmax
    out = birkhoff_projection(batch, tol=1e-12)
    for m, x in zip(batch.numpy(), out.numpy()):
        expected = _qp_projection(m)
        np.testing.assert_allclose(x, expected, atol=2e-6)
        # optimality: nothing feasible found by the QP solver is closer to M
        assert np.sum((x - m) ** 2) <= np.sum((expected - m) ** 2) + 1e-9


def test_output_doubly_stochastic_nonnegative_and_idempotent():
    m = torch.randn(3, 4, 8, 8, dtype=torch.float64) * 2  # arbitrary batch shape
    x = birkhoff_projection(m, tol=1e-10, max_rounds=50_000)
    assert x.shape == m.shape
    assert (x >= 0).all()
    assert doubly_stochastic_error(x).max() < 1e-9
    again = birkhoff_projection(x, tol=1e-10)
    torch.testing.assert_close(again, x, atol=1e-9, rtol=0)


def test_doubly_stochastic_input_is_fixed_point():
    perm = torch.eye(5, dtype=torch.float64)[torch.randperm(5)]
    ds = 0.3 * perm + 0.7 * torch.full((5, 5), 0.2, dtype=torch.float64)
    torch.testing.assert_close(birkhoff_projection(ds), ds, atol=1e-12, rtol=0)


def test_float32_in_float32_out():
    m = torch.randn(2, 6, 6)
    x = birkhoff_projection(m, tol=1e-9)
    assert x.dtype == torch.float32
    assert doubly_stochastic_error(x.double()).max() < 1e-5
    assert (x >= 0).all()


def test_kkt_certificate():
    """KKT of the QP: M - X = w with w_ij = u_i + v_j on X's support, and M_ij <= w_ij off it."""
    n = 7
    m = torch.randn(n, n, dtype=torch.float64)
    x = birkhoff_projection(m, tol=1e-12, max_rounds=100_000)
    support = (x > 1e-9).numpy()
    rows, cols = np.nonzero(support)
    design = np.zeros((len(rows), 2 * n))
    design[np.arange(len(rows)), rows] = 1.0
    design[np.arange(len(rows)), n + cols] = 1.0
    uv, *_ = np.linalg.lstsq(design, (m - x).numpy()[support], rcond=None)
    w = uv[:n, None] + uv[None, n:]  # (n, n)
    np.testing.assert_allclose(w[support], (m - x).numpy()[support], atol=1e-8)
    assert (m.numpy()[~support] <= w[~support] + 1e-8).all()  # multipliers of X >= 0 are >= 0


def test_affine_projection_closed_form():
    y = torch.randn(4, 6, 6, dtype=torch.float64)
    p = project_affine_doubly(y)
    assert doubly_stochastic_error(p).max() < 1e-12
    torch.testing.assert_close(project_affine_doubly(p), p)


@pytest.mark.parametrize(
    "bad, kwargs, match",
    [
        (torch.ones(3, 4), {}, "shape"),
        (torch.ones(4), {}, "shape"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), {}, "NaN"),
        (torch.ones(3, 3, dtype=torch.int64), {}, "floating"),
        (torch.ones(3, 3), {"tol": 0.0}, "tol"),
        (torch.ones(3, 3), {"max_rounds": 0}, "max_rounds"),
    ],
)
def test_bad_input(bad, kwargs, match):
    with pytest.raises(ValueError, match=match):
        birkhoff_projection(bad, **kwargs)
