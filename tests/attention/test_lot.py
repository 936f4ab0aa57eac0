"""LOTFormer (``lot``): doubly stochastic glued plan, rank, P @ V path linear in T, learning."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import qdsformer.attention.lot as lot_module
from qdsformer.attention import create_normalizer
from qdsformer.attention.lot import glue, glue_apply, lot_factors


def _qk(b=3, h=2, t=8, d=8, scale=1.0, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    q = scale * torch.randn(b, h, t, d, generator=gen, dtype=dtype) * d**-0.5
    k = scale * torch.randn(b, h, t, d, generator=gen, dtype=dtype) * d**-0.5
    return q, k


def _lot(dtype=torch.float64, **kwargs):
    options = {"num_heads": 2, "head_dim": 8, **kwargs}
    return create_normalizer("lot", **options).to(dtype)


@pytest.mark.parametrize("t, r", [(8, 3), (8, 32), (16, 4), (5, 2)])
@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_doubly_stochastic_to_the_sinkhorn_tolerance(t, r, scale):
    norm = _lot(r=r, tol=1e-10, n_iters=4001, seed=t)
    with torch.no_grad():  # non-uniform pivot masses
        norm.mass_logits.copy_(torch.randn(2, r, generator=torch.Generator().manual_seed(r)))
    q, k = _qk(t=t, scale=scale, seed=r)
    p = norm(q, k)
    ones = torch.ones(3, 2, t, dtype=p.dtype)
    assert (p >= 0).all()
    assert torch.allclose(p.sum(-1), ones, atol=1e-12, rtol=0)  # last step fits the rows
    assert torch.allclose(p.sum(-2), ones, atol=1e-6, rtol=0)


def test_default_five_half_steps_rows_exact_columns_close_and_improving():
    q, k = _qk(b=64, seed=1)
    errors = []
    for n_iters in (1, 3, 5, 11, 51):
        p = _lot(n_iters=n_iters)(q, k)
        assert torch.allclose(p.sum(-1), torch.ones(64, 2, 8, dtype=p.dtype), atol=1e-12)
        errors.append((p.sum(-2) - 1).abs().max().item())
    # measured max column error: 0.48, 0.030, 2.2e-3 (the default 5), 1.2e-6, 8.9e-16
    assert errors[2] < 5e-3
    assert all(a > b for a, b in zip(errors, errors[1:]))


def test_rank_is_at_most_r():
    q, k = _qk(t=16, seed=2)
    for r in (1, 3, 6):
        p = _lot(r=r)(q, k)
        ranks = torch.linalg.matrix_rank(p, rtol=1e-9)  # (B, H)
        assert (ranks <= r).all() and (ranks == r).any()


def test_plans_match_pot_and_the_glue_is_the_conditional_coupling():
    """Independent check: each entropic plan against POT's log-domain Sinkhorn."""
    ot = pytest.importorskip("ot")
    norm = _lot(r=5, epsilon=0.5, tol=1e-12, n_iters=20001)
    with torch.no_grad():
        norm.mass_logits.copy_(torch.randn(2, 5, generator=torch.Generator().manual_seed(0)))
    q, k = _qk(t=7, scale=2.0, seed=4)
    plan_qz, plan_zk, sigma = norm.factors(q, k)
    for b in range(3):
        for h in range(2):
            z, s = norm.pivots[h].detach(), sigma[h].detach().numpy()
            uniform = np.full(7, 1 / 7)
            cost_qz = -(q[b, h] @ z.T).numpy()
            cost_zk = -(z @ k[b, h].T).numpy()
            ref_qz = ot.sinkhorn(uniform, s, cost_qz, 0.5, method="sinkhorn_log",
                                 numItermax=100000, stopThr=1e-14)
            ref_zk = ot.sinkhorn(s, uniform, cost_zk, 0.5, method="sinkhorn_log",
                                 numItermax=100000, stopThr=1e-14)
            assert np.allclose(plan_qz[b, h].detach().numpy(), ref_qz, atol=1e-9)
            assert np.allclose(plan_zk[b, h].detach().numpy(), ref_zk, atol=1e-9)
    expected = 7 * torch.einsum("bhim,hm,bhmj->bhij", plan_qz, 1 / sigma, plan_zk)
    assert torch.allclose(norm(q, k), expected, atol=1e-13)


def test_uses_the_package_sinkhorn_kernel_twice(monkeypatch):
    calls = []
    real = lot_module.sinkhorn

    def counting(cost, *args, **kwargs):
        calls.append(tuple(cost.shape))
        return real(cost, *args, **kwargs)

    monkeypatch.setattr(lot_module, "sinkhorn", counting)
    q, k = _qk(t=8)
    _lot(r=4)(q, k)
    assert calls == [(3, 2, 8, 4), (3, 2, 4, 8)]


def test_attend_equals_plan_times_values_and_gradients_flow():
    norm = _lot(r=4)
    q, k = _qk(t=10, seed=5)
    q.requires_grad_()
    k.requires_grad_()
    v = torch.randn(3, 2, 10, 6, dtype=torch.float64)
    out = norm.attend(q, k, v)
    assert torch.allclose(out, norm(q, k) @ v, atol=1e-13)
    out.square().sum().backward()
    for grad in (q.grad, k.grad, norm.pivots.grad, norm.mass_logits.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


class _IntermediateCounter(TorchDispatchMode):
    """Sums the elements of every tensor an aten op returns, and the largest one."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.total += t.numel()
                self.largest = max(self.largest, t.numel())
        return out


def _count(fn, t, r=8, d=8):
    norm = _lot(torch.float32, r=r, head_dim=d, num_heads=1)
    gen = torch.Generator().manual_seed(t)
    q, k, v = (torch.randn(1, 1, t, d, generator=gen).requires_grad_() for _ in range(3))
    counter = _IntermediateCounter()
    with counter:
        fn(norm, q, k, v).sum().backward()
    return counter.total, counter.largest


@pytest.mark.parametrize("fn, name", [(lambda n, q, k, v: n.attend(q, k, v), "attend")])
def test_attend_cost_grows_linearly_in_t(fn, name):
    """Elements of all intermediates (forward + backward) double when T doubles."""
    sizes = (256, 512, 1024, 2048)
    totals, largest = zip(*(_count(fn, t) for t in sizes))
    for a, b in zip(totals, totals[1:]):
        assert 1.8 < b / a < 2.2, (name, totals)
    for a, b in zip(largest, largest[1:]):
        assert b / a <= 2.0 + 1e-9, (name, largest)


def test_forming_the_plan_grows_quadratically_so_the_count_can_tell():
    totals, largest = zip(*(_count(lambda n, q, k, v: n(q, k) @ v, t) for t in (256, 512)))
    assert largest[1] / largest[0] == 4.0 and totals[1] / totals[0] > 3.0


def test_timm_layer_trains_the_pivot_and_takes_the_linear_path():
    from qdsformer.models import attention_layers, attention_maps, create_vit

    torch.manual_seed(0)
    model = create_vit("qdsformer_digits", attention="lot", attention_kwargs={"r": 3},
                       num_heads=2, depth=1)
    layer = attention_layers(model)[0]
    norm = layer.normalizer
    assert (norm.num_heads, norm.head_dim) == (2, 32)
    names = {n for n, _ in model.named_parameters()}
    assert any(n.endswith("normalizer.pivots") for n in names)
    assert any(n.endswith("normalizer.mass_logits") for n in names)
    images = torch.randn(4, 1, 8, 8)
    labels = torch.randint(0, 10, (4,))
    before = norm.pivots.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    opt.step()
    assert not torch.equal(before, norm.pivots.detach())
    # the P @ V path (T = 5 >= linear_from = 1) gives the same logits as forming P
    model.eval()
    with torch.no_grad():
        dense = model(images)
        norm.linear_from = 1
        calls = []
        norm.register_forward_hook(lambda *a: calls.append(1))  # forward forms P
        linear = model(images)
        assert calls == [] and torch.allclose(dense, linear, atol=1e-5)
        maps = attention_maps(model, images)  # a stored map needs P: forward is used
        assert calls == [1] and maps[0].shape == (4, 2, 5, 5)


@pytest.mark.parametrize("kwargs, word", [
    ({"r": 0}, "r must"), ({"epsilon": 0.0}, "epsilon"), ({"n_iters": 4}, "odd"),
    ({"tol": -1.0}, "tol"), ({"grad": "magic"}, "grad"), ({"head_dim": 0}, "head_dim"),
    ({"mass_temperature": 0}, "mass_temperature")])
def test_bad_arguments_name_the_value(kwargs, word):
    with pytest.raises(ValueError, match=word):
        create_normalizer("lot", **kwargs)


def test_mismatched_heads_or_features_are_named():
    norm = _lot(num_heads=2, head_dim=8)
    with pytest.raises(ValueError, match="head_dim = 8"):
        norm(*_qk(d=4))
    with pytest.raises(ValueError, match="num_heads = 2"):
        norm(*_qk(h=3))


def test_functions_compose_without_the_module():
    q, k = _qk(t=6, seed=9)
    pivots = torch.randn(2, 3, 8, dtype=torch.float64)
    sigma = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64).expand(2, 3)
    a, b = lot_factors(q, k, pivots, sigma, epsilon=1.0, n_iters=5)
    v = torch.randn(3, 2, 6, 4, dtype=torch.float64)
    assert torch.allclose(glue_apply(a, b, sigma, v), glue(a, b, sigma) @ v, atol=1e-13)
