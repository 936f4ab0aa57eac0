"""Properties every registered attention normaliser must have, and each backend's own."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qdsformer.attention import create_normalizer, get_normalizer_class, list_normalizers

# Settings that keep the generic checks fast: a small circuit for the quantum backend.
CHECK_KWARGS = {"qontot": {"n_layers": 2, "n_aux_qubits": 1}}
# Sinkhorn is doubly stochastic only in the limit of many iterations: its columns are checked
# in test_sinkhorn_converges_to_doubly_stochastic, the exact backends' here.
APPROXIMATE = {"sinkhorn"}


def make(name, **extra):
    return create_normalizer(name, **{**CHECK_KWARGS.get(name, {}), **extra})


# Normalisers of scores; the (q, k) ones (consumes == "qk") are checked below and in their files.
SCORE_NORMALIZERS = [n for n in list_normalizers() if get_normalizer_class(n).consumes == "scores"]
QK_NORMALIZERS = [n for n in list_normalizers() if get_normalizer_class(n).consumes == "qk"]
QK_DIM = 6
QK_KWARGS = {"lot": {"head_dim": QK_DIM}}


@pytest.mark.parametrize("name", SCORE_NORMALIZERS)
@settings(max_examples=15, deadline=None)
@given(t=st.sampled_from([2, 4, 5, 8]), scale=st.floats(0.1, 4.0), seed=st.integers(0, 10**6))
def test_normalizer_properties(name, t, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    scores = (scale * torch.randn(2, 2, t, t, generator=gen, dtype=torch.float64)).requires_grad_()
    norm = make(name)
    p = norm(scores)
    assert p.shape == scores.shape
    assert (p >= -1e-7).all()
    assert torch.allclose(p.sum(-1), torch.ones(2, 2, t, dtype=p.dtype), atol=1e-5)
    if get_normalizer_class(name).doubly_stochastic and name not in APPROXIMATE:
        assert torch.allclose(p.sum(-2), torch.ones(2, 2, t, dtype=p.dtype), atol=1e-5)
    (p * torch.randn_like(p)).sum().backward()
    assert torch.isfinite(scores.grad).all()


@settings(max_examples=30, deadline=None)
@given(t=st.integers(1, 12), seed=st.integers(0, 10**6), scale=st.floats(0.01, 10.0))
def test_sinkhorn_one_iteration_is_softmax(t, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    scores = scale * torch.randn(3, 2, t, t, generator=gen)
    p = create_normalizer("sinkhorn", n_iters=1)(scores)
    assert torch.allclose(p, torch.softmax(scores, -1), atol=1e-6, rtol=0)


@settings(max_examples=20, deadline=None)
@given(t=st.sampled_from([2, 4, 5, 8]), seed=st.integers(0, 10**6))
def test_sinkhorn_converges_to_doubly_stochastic(t, seed):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(2, 2, t, t, generator=gen, dtype=torch.float64)
    p = create_normalizer("sinkhorn", n_iters=501)(scores)
    assert torch.allclose(p.sum(-1), torch.ones(2, 2, t, dtype=p.dtype), atol=1e-12)
    assert torch.allclose(p.sum(-2), torch.ones(2, 2, t, dtype=p.dtype), atol=1e-6)


def test_sinkhorn_columns_improve_with_iterations():
    scores = 3 * torch.randn(4, 1, 8, 8, dtype=torch.float64)
    errors = [
        (create_normalizer("sinkhorn", n_iters=k)(scores).sum(-2) - 1).abs().max()
        for k in (1, 3, 21)
    ]
    assert errors[0] > errors[1] > errors[2]


def test_sinkhorn_epsilon_sharpens():
    scores = torch.randn(2, 1, 6, 6)
    soft = create_normalizer("sinkhorn", n_iters=5, epsilon=10.0)(scores)
    sharp = create_normalizer("sinkhorn", n_iters=5, epsilon=0.1)(scores)
    assert sharp.max() > soft.max()


@pytest.mark.parametrize("t", [3, 8, 16])
def test_qr_exactly_doubly_stochastic(t):
    p = create_normalizer("qr")(torch.randn(5, 2, t, t))
    ones = torch.ones(5, 2, t)
    assert torch.allclose(p.sum(-1), ones, atol=1e-5)
    assert torch.allclose(p.sum(-2), ones, atol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 100.0])
@pytest.mark.parametrize("kind", ["rank_one", "zeros", "repeated_rows"])
def test_qr_gradient_finite_on_rank_deficient_scores(kind, scale):
    t = 6
    if kind == "rank_one":  # float32 rank-one scores of size 100 defeat noise of std 1e-7
        scores = scale * torch.randn(8, 1, t, 1) @ torch.randn(8, 1, 1, t)
    elif kind == "zeros":
        scores = torch.zeros(8, 1, t, t)
    else:
        scores = scale * torch.randn(8, 1, 1, t).expand(8, 1, t, t).clone()
    scores.requires_grad_()
    p = create_normalizer("qr")(scores)
    (p * torch.randn_like(p)).sum().backward()
    assert torch.isfinite(p).all() and torch.isfinite(scores.grad).all()
    assert torch.allclose(p.sum(-2), torch.ones(8, 1, t), atol=1e-5)


def test_qr_adds_no_noise_to_full_rank_scores():
    scores = torch.randn(3, 1, 5, 5, dtype=torch.float64)
    norm = create_normalizer("qr")
    q, _ = torch.linalg.qr(scores)
    assert torch.equal(norm(scores), q * q)


def test_norm_softmax_divides_by_min_of_sqrt_d_and_row_std():
    d = 16
    scores = torch.randn(2, 1, 4, 4)
    raw = scores * d**0.5
    std = raw.std(-1, keepdim=True, unbiased=False)
    expected_sigma = torch.softmax(raw / torch.clamp(std, max=d**0.5), -1)
    expected_sigma2 = torch.softmax(raw / torch.clamp(std**2, max=d**0.5), -1)
    assert torch.allclose(create_normalizer("softmax_sigma", head_dim=d)(scores), expected_sigma)
    assert torch.allclose(create_normalizer("softmax_sigma2", head_dim=d)(scores), expected_sigma2)


@pytest.mark.parametrize("name", QK_NORMALIZERS)
@settings(max_examples=15, deadline=None)
@given(t=st.sampled_from([2, 4, 5, 8]), scale=st.floats(0.1, 4.0), seed=st.integers(0, 10**6))
def test_qk_normalizer_properties(name, t, scale, seed):
    """Shape, nonnegativity, finite gradients; marginals are tested in each backend's file."""
    gen = torch.Generator().manual_seed(seed)
    q, k = (scale * torch.randn(2, 2, t, QK_DIM, generator=gen, dtype=torch.float64)
            for _ in range(2))
    q.requires_grad_()
    k.requires_grad_()
    norm = create_normalizer(name, **QK_KWARGS.get(name, {})).double()
    p = norm(q, k)
    assert p.shape == (2, 2, t, t)
    assert (p >= 0).all()
    (p * torch.randn_like(p)).sum().backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()


@pytest.mark.parametrize("name", QK_NORMALIZERS)
def test_qk_bad_input_names_the_problem(name):
    norm = create_normalizer(name, **QK_KWARGS.get(name, {}))
    q = torch.randn(1, 1, 4, QK_DIM)
    with pytest.raises(ValueError, match="shape"):
        norm(q[0], q[0])
    with pytest.raises(ValueError, match="same shape"):
        norm(q, torch.randn(1, 1, 5, QK_DIM))
    bad = q.clone()
    bad[0, 0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        norm(bad, q)
    with pytest.raises(ValueError, match="v must have shape"):
        norm.attend(q, q, torch.randn(1, 1, 3, 2))


@pytest.mark.parametrize("name", SCORE_NORMALIZERS)
def test_bad_input_names_the_problem(name):
    norm = make(name)
    with pytest.raises(ValueError, match="shape"):
        norm(torch.randn(4, 4))
    bad = torch.randn(1, 1, 4, 4)
    bad[0, 0, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        norm(bad)
    if get_normalizer_class(name).requires_square:
        with pytest.raises(ValueError, match="square"):
            norm(torch.randn(1, 1, 4, 3))


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown attention normaliser 'softmux'.*softmax"):
        create_normalizer("softmux")


@pytest.mark.parametrize("n_iters", [0, 2, 4, -1, 2.5])
def test_sinkhorn_rejects_bad_iteration_counts(n_iters):
    with pytest.raises(ValueError, match="n_iters"):
        create_normalizer("sinkhorn", n_iters=n_iters)


def test_unknown_keyword_is_a_value_error():
    with pytest.raises(ValueError, match="softmax"):
        create_normalizer("softmax", n_iters=3)
