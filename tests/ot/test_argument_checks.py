"""OT entry points: inf / NaN / wrong-type scalars are one ValueError naming key and value."""

import pytest
import torch

from qdsformer.ot import MongeMap, entropic_ot, fit_monge_map, monge_gap, sinkhorn, sns

NAN, INF = float("nan"), float("inf")
X, Y = torch.rand(4, 2, dtype=torch.float64), torch.rand(3, 2, dtype=torch.float64)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sinkhorn(torch.rand(3, 3), epsilon=INF, n_iters=3),
     "sinkhorn: epsilon must be a finite number > 0, got inf"),
    (lambda: sinkhorn(torch.rand(3, 3), epsilon="x", n_iters=3),
     "sinkhorn: epsilon must be a finite number > 0, got 'x'"),
    (lambda: sinkhorn(torch.rand(3, 3), tol=NAN, n_iters=3),
     "sinkhorn: tol must be a finite number > 0, got nan"),
    (lambda: entropic_ot(X, Y, p=INF), "entropic_ot: p must be a finite number > 0, got inf"),
    (lambda: monge_gap(X, X + 1, epsilon=INF),
     "sinkhorn: epsilon must be a finite number > 0, got inf"),
    (lambda: sns(torch.rand(3, 3), epsilon=INF), "epsilon must be a finite number > 0, got inf"),
    (lambda: MongeMap("x"), "MongeMap: dim must be an int >= 1, got 'x'"),
    (lambda: fit_monge_map(X, X, seed="x", steps=1),
     "fit_monge_map: seed must be an int >= 0, got 'x'"),
    (lambda: fit_monge_map(X, X, lam=NAN, steps=1),
     "fit_monge_map: lam must be a finite number >= 0, got nan"),
    (lambda: fit_monge_map(X, X, lr=INF, steps=1),
     "fit_monge_map: lr must be a finite number > 0, got inf"),
    (lambda: fit_monge_map(X, X, steps=0), "fit_monge_map: steps must be an int >= 1, got 0"),
])
def test_bad_scalar_names_key_and_value(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message
