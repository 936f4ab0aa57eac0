"""The f-divergence family: definition parity, closed forms, bounds, weights h(r), bad input."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qdsformer.divergences import divergence, generator, list_divergences, weight

ALL = list_divergences()
# (name, kwargs) pairs covering every parametrised member at more than one setting.
CASES = [(n, {}) for n in ALL] + [
    ("alpha", {"alpha": -0.5}), ("alpha", {"alpha": 0.0}), ("alpha", {"alpha": 1.0}),
    ("alpha", {"alpha": 2.0}), ("skew_kl", {"alpha": 0.0}), ("skew_kl", {"alpha": 0.6}),
    ("skew_reverse_kl", {"alpha": 0.3}), ("gjsd", {"beta": 0.1}), ("gjsd", {"beta": 0.9}),
]
TWICE_DIFFERENTIABLE = [c for c in CASES if c[0] != "tv"]


def _ids(case):
    name, kw = case
    return name + "".join(f"-{k}{v}" for k, v in kw.items())


def _pair(shape=(6, 7), scale=2.0, dtype=torch.float64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    p = scale * torch.randn(shape, generator=gen, dtype=dtype)
    q = scale * torch.randn(shape, generator=gen, dtype=dtype)
    return p, q


def test_registry_lists_the_family():
    expected = {"kl", "reverse_kl", "js", "tv", "hellinger", "pearson", "jeffreys", "alpha",
                "skew_kl", "gjsd"}
    assert expected <= set(ALL)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_definition_sum_q_f_of_ratio(case):
    """The stable log-space form equals the naive sum_x q f(p / q) with the generator."""
    name, kw = case
    p_logits, q_logits = _pair()
    p, q = p_logits.softmax(-1), q_logits.softmax(-1)
    naive = (q * generator(name, p / q, **kw)).sum(-1)  # (B,)
    got = divergence(name, p_logits, q_logits, reduction="none", **kw)
    torch.testing.assert_close(got, naive, rtol=1e-10, atol=1e-12)
    assert (got > 0).all()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_generator_vanishes_at_one_and_is_convex(case):
    name, kw = case
    assert generator(name, 1.0, **kw).abs() < 1e-12
    t = torch.linspace(0.05, 8.0, 200, dtype=torch.float64)
    f = generator(name, t, **kw)
    second_difference = f[2:] - 2 * f[1:-1] + f[:-2]
    assert (second_difference >= -1e-12).all()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_zero_on_equal_inputs_float32(case):
    name, kw = case
    logits = 3 * torch.randn(5, 10)
    value = divergence(name, logits, logits.clone(), **kw)
    assert value.abs() < 1e-6


def test_kl_and_reverse_kl_match_torch_kl_div():
    p_logits, q_logits = _pair(shape=(8, 5))
    log_p, log_q = p_logits.log_softmax(-1), q_logits.log_softmax(-1)
    expected = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)  # KL(p || q)
    torch.testing.assert_close(divergence("kl", p_logits, q_logits), expected)
    reverse = F.kl_div(log_p, log_q, reduction="batchmean", log_target=True)  # KL(q || p)
    torch.testing.assert_close(divergence("reverse_kl", p_logits, q_logits), reverse)


def test_closed_forms():
    p_logits, q_logits = _pair(shape=(4, 9))
    p, q = p_logits.softmax(-1), q_logits.softmax(-1)
    m = (p + q) / 2

    def entropy(x):
        return -(x * x.log()).sum(-1)

    def d(name, **kw):
        return divergence(name, p_logits, q_logits, reduction="none", **kw)

    torch.testing.assert_close(d("tv"), 0.5 * (p - q).abs().sum(-1))
    torch.testing.assert_close(d("hellinger"), 1 - (p * q).sqrt().sum(-1))
    torch.testing.assert_close(d("pearson"), (p**2 / q).sum(-1) - 1)
    torch.testing.assert_close(d("neyman"), (q**2 / p).sum(-1) - 1)
    torch.testing.assert_close(d("jeffreys"), d("kl") + d("reverse_kl"))
    torch.testing.assert_close(d("js"), entropy(m) - (entropy(p) + entropy(q)) / 2)
    torch.testing.assert_close(d("softened_reverse_kl"), 2 * (m * (m / p).log()).sum(-1))
    torch.testing.assert_close(d("alpha", alpha=0.5), 4 * d("hellinger"))
    torch.testing.assert_close(d("alpha", alpha=2.0), d("pearson") / 2)
    torch.testing.assert_close(d("alpha", alpha=1.0), d("kl"))
    torch.testing.assert_close(d("alpha", alpha=0.0), d("reverse_kl"))
    torch.testing.assert_close(d("alpha", alpha=1 - 1e-6), d("kl"), rtol=1e-5, atol=0)
    torch.testing.assert_close(d("gjsd", beta=0.5), d("js"))
    torch.testing.assert_close(d("skew_kl", alpha=0.0), d("kl"))
    torch.testing.assert_close(d("skew_reverse_kl", alpha=0.0), d("reverse_kl"))
    mix = 0.3 * p + 0.7 * q
    torch.testing.assert_close(d("skew_kl", alpha=0.3), (p * (p / mix).log()).sum(-1))


def test_bounds_reached_by_disjoint_supports():
    """JS <= log 2, TV <= 1, H^2 <= 1, each approached when p and q barely overlap."""
    far = torch.tensor([[40.0, -40.0]], dtype=torch.float64)
    near_disjoint = {"js": math.log(2), "tv": 1.0, "hellinger": 1.0}
    for name, bound in near_disjoint.items():
        value = divergence(name, far, -far)
        assert bound - 1e-8 < value <= bound
        random_value = divergence(name, *_pair(scale=6.0), reduction="none")
        assert (random_value <= bound).all()


def test_reductions():
    p_logits, q_logits = _pair(shape=(3, 4, 6))
    per = divergence("js", p_logits, q_logits, reduction="none")
    assert per.shape == (3, 4)
    torch.testing.assert_close(divergence("js", p_logits, q_logits, reduction="sum"), per.sum())
    torch.testing.assert_close(divergence("js", p_logits, q_logits), per.mean())


# chi^2-type members legitimately overflow when p / q ~ exp(160), so they are left out here.
BOUNDED_GROWTH = [c for c in CASES
                  if c[0] not in ("pearson", "neyman") and c[1].get("alpha", 0.5) <= 1]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", BOUNDED_GROWTH, ids=_ids)
def test_finite_value_and_gradient_at_extreme_logits(case, dtype):
    name, kw = case
    p_logits = torch.tensor([[80.0, -80.0, 0.0], [0.0, 1e-3, -1e-3]], dtype=dtype,
                            requires_grad=True)
    q_logits = torch.tensor([[-80.0, 80.0, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    value = divergence(name, p_logits, q_logits, **kw)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(p_logits.grad).all()


TABLE = {  # f-distill's h(r) (with the JS generator halved; see the module docstring)
    "kl": lambda r: r,
    "reverse_kl": lambda r: torch.ones_like(r),
    "softened_reverse_kl": lambda r: 1 / (r + 1),
    "js": lambda r: r / (2 * (r + 1)),
    "hellinger": lambda r: r.sqrt() / 4,
    "jeffreys": lambda r: r + 1,
    "pearson": lambda r: 2 * r**2,
    "neyman": lambda r: 2 / r,
}
R = torch.tensor([0.1, 0.5, 1.0, 2.0, 7.5, 20.0], dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_weight_matches_table(name):
    torch.testing.assert_close(weight(name, R), TABLE[name](R))


def test_js_weight_equals_fdistill_table_after_batch_mean_normalisation():
    ours = weight("js", R)
    table = R / (R + 1)
    torch.testing.assert_close(ours / ours.mean(), table / table.mean())


def test_alpha_weight_is_power():
    for a in (-1.0, 0.0, 0.5, 1.0, 3.0):
        torch.testing.assert_close(weight("alpha", R, alpha=a), R**a)


@pytest.mark.parametrize("case", TWICE_DIFFERENTIABLE, ids=_ids)
def test_weight_is_numerical_second_derivative_times_r_squared(case):
    name, kw = case
    step = 1e-4 * R
    def f(t):
        return generator(name, t, **kw)

    second = (f(R + step) - 2 * f(R) + f(R - step)) / step**2
    torch.testing.assert_close(weight(name, R, **kw), second * R**2, rtol=1e-5, atol=1e-7)


logit_rows = arrays(
    dtype="float64",
    shape=st.tuples(st.integers(1, 4), st.integers(1, 8)),
    elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=40, deadline=None)
@given(logit_rows, st.data(), st.sampled_from(CASES))
def test_property_nonnegative_and_zero_on_equal(p_np, data, case):
    name, kw = case
    q_np = data.draw(arrays(dtype="float64", shape=p_np.shape,
                            elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False)))
    p_logits, q_logits = torch.from_numpy(p_np), torch.from_numpy(q_np)
    value = divergence(name, p_logits, q_logits, reduction="none", **kw)
    assert (value >= -1e-9 * (1.0 + value.abs())).all()
    same = divergence(name, p_logits, p_logits.clone(), reduction="none", **kw)
    assert (same.abs() <= 1e-12).all()


@settings(max_examples=30, deadline=None)
@given(logit_rows, st.data(), st.sampled_from(["js", "tv", "hellinger", "jeffreys"]))
def test_property_symmetric_members_are_symmetric(p_np, data, name):
    q_np = data.draw(arrays(dtype="float64", shape=p_np.shape,
                            elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False)))
    p_logits, q_logits = torch.from_numpy(p_np), torch.from_numpy(q_np)
    torch.testing.assert_close(divergence(name, p_logits, q_logits),
                               divergence(name, q_logits, p_logits), rtol=1e-9, atol=1e-12)


def test_bad_input_raises_value_error_naming_the_problem():
    p, q = torch.randn(2, 3), torch.randn(2, 3)
    with pytest.raises(ValueError, match="unknown divergence 'kll'.*known: .*kl"):
        divergence("kll", p, q)
    with pytest.raises(ValueError, match=r"same shape.*\(2, 3\).*\(2, 4\)"):
        divergence("kl", p, torch.randn(2, 4))
    with pytest.raises(ValueError, match="NaN or infinite"):
        divergence("kl", p, torch.tensor([[0.0, float("nan"), 1.0]] * 2))
    with pytest.raises(ValueError, match="floating point"):
        divergence("kl", torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown reduction 'mean'"):
        divergence("kl", p, q, reduction="mean")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['alpha'\].*no parameters"):
        divergence("kl", p, q, alpha=0.3)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\), got 1.0"):
        divergence("skew_kl", p, q, alpha=1.0)
    with pytest.raises(ValueError, match=r"beta must lie in \(0, 1\), got 0.0"):
        divergence("gjsd", p, q, beta=0.0)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        divergence("alpha", p, q, alpha=float("inf"))
    with pytest.raises(ValueError, match="'tv' has no weight"):
        weight("tv", 1.0)
    with pytest.raises(ValueError, match="r must be finite and > 0"):
        weight("kl", torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="t must be finite and > 0"):
        generator("kl", -1.0)


def test_describe_and_params_show_defaults():
    from qdsformer.divergences import describe, divergence_params

    assert describe("alpha").endswith("[alpha=0.5]") and "KL(p || q)" in describe("kl")
    assert divergence_params("gjsd") == {"beta": 0.5}
    assert divergence_params("skew_kl", alpha=0.3) == {"alpha": 0.3}
    with pytest.raises(ValueError, match="unknown divergence"):
        describe("nope")
