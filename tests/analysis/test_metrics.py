"""Metric definitions on hand-made matrices with known answers."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from qdsformer.analysis import (
    birkhoff_distance,
    cell_range,
    effective_rank,
    entropy,
    information_kept,
    marginal_max_error,
    spearman,
    unique_count,
)
from qdsformer.attention import create_normalizer

PERMUTATION = torch.eye(5, dtype=torch.float64)[[3, 0, 4, 1, 2]]  # (5, 5)
UNIFORM = torch.full((5, 5), 1 / 5, dtype=torch.float64)


def test_permutation_matrix_is_sound_sharp_and_full_rank():
    assert birkhoff_distance(PERMUTATION).item() < 1e-6
    assert entropy(PERMUTATION).item() == 0.0
    assert marginal_max_error(PERMUTATION).item() == 0.0
    assert effective_rank(PERMUTATION).item() == pytest.approx(5.0, abs=1e-9)


def test_uniform_matrix_is_sound_with_maximal_entropy_and_rank_one():
    assert birkhoff_distance(UNIFORM).item() < 1e-6
    assert entropy(UNIFORM).item() == pytest.approx(1.0, abs=1e-12)
    assert effective_rank(UNIFORM).item() == pytest.approx(1.0, abs=1e-9)


def test_row_stochastic_2x2_has_distance_one():
    # 2x2 DSMs are [[a, 1-a], [1-a, a]]; the closest to [[1, 0], [1, 0]] is a = 1/2 and
    # ||P - X||_F^2 = 4 * (1/2)^2 = 1.
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    assert birkhoff_distance(p).item() == pytest.approx(1.0, abs=1e-6)
    assert marginal_max_error(p, axis="row").item() == 0.0
    assert marginal_max_error(p, axis="column").item() == 1.0
    assert entropy(p).item() == 0.0


def test_softmax_of_rank_one_scores_has_closed_form_distance():
    # S = 1 v^T: every row of softmax(S) is p = softmax(v), so P = 1 p^T. Its projection onto
    # the affine set {X 1 = 1, X^T 1 = 1} is J / n (P - J/n = 1 (p - 1/n)^T is orthogonal to
    # every D with D 1 = 0, D^T 1 = 0), which is non-negative, hence also the projection onto
    # the polytope: d = ||1 (p - 1/n)^T||_F = sqrt(n) ||p - 1/n||_2.
    gen = torch.Generator().manual_seed(3)
    n = 6
    v = torch.randn(4, n, generator=gen, dtype=torch.float64) * 2  # (B, n)
    scores = torch.ones(4, n, 1, dtype=torch.float64) * v[:, None, :]  # (B, n, n), rank one
    p_out = create_normalizer("softmax")(scores[:, None])[:, 0]  # (B, n, n)
    expected = math.sqrt(n) * torch.linalg.vector_norm(torch.softmax(v, -1) - 1 / n, dim=-1)
    torch.testing.assert_close(birkhoff_distance(p_out), expected, atol=1e-6, rtol=0)
    assert (expected > 0.1).all()  # the test is not vacuous
    # the transposed rank-one scores u 1^T give constant rows: uniform output, distance 0
    p_t = create_normalizer("softmax")(scores.transpose(-1, -2)[:, None])[:, 0]
    assert birkhoff_distance(p_t).max().item() < 1e-6


def test_metrics_batch_over_leading_dims():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 3, 4, 4, generator=gen)  # (B, H, T, T)
    p = torch.softmax(scores, -1)
    for fn in (birkhoff_distance, entropy, effective_rank, marginal_max_error):
        out = fn(p)
        assert out.shape == (2, 3)
        torch.testing.assert_close(out[1, 2], fn(p[1, 2]).to(out.dtype))
    assert information_kept(p, scores).shape == (2, 3)


def test_information_kept_is_frobenius_distance():
    p = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    m = torch.tensor([[1.5, 0.5], [0.5, -0.5]])
    assert information_kept(p, m).item() == pytest.approx(math.sqrt(2.0))
    with pytest.raises(ValueError, match="matrix shape"):
        information_kept(p, torch.zeros(3, 3))


def test_unique_count_rounds_to_decimals():
    base = torch.tensor([[0.1234, 0.8766], [0.8766, 0.1234]])
    batch = torch.stack([
        base,
        base + 4e-5,                         # rounds to the same 3-decimal matrix
        base.flip(0),                        # a different matrix
        base + torch.tensor([[0.01, 0.0], [0.0, 0.0]]),  # differs in the 2nd decimal
        -0.0 * base,                         # negative zeros ...
        0.0 * base,                          # ... equal positive zeros
    ])
    assert unique_count(batch) == 4
    assert unique_count(batch, decimals=1) == 3  # the 0.01 shift disappears
    assert unique_count(batch.reshape(3, 2, 2, 2)) == 4  # leading dims flattened
    with pytest.raises(ValueError, match="decimals"):
        unique_count(batch, decimals=-1)
    with pytest.raises(ValueError, match="NaN"):
        unique_count(torch.full((2, 2, 2), float("nan")))


def test_cell_range_over_parameterisations():
    stack = torch.tensor([[[0.2, 0.8], [0.8, 0.2]], [[0.5, 0.5], [0.5, 0.5]],
                          [[0.9, 0.1], [0.1, 0.9]]])  # (K, 2, 2)
    torch.testing.assert_close(cell_range(stack), torch.tensor([[0.7, 0.7], [0.7, 0.7]]))
    with pytest.raises(ValueError, match="stack"):
        cell_range(torch.eye(2))


def test_spearman_matches_scipy_including_ties():
    gen = torch.Generator().manual_seed(1)
    a = torch.randint(0, 4, (3, 5, 5), generator=gen).double()  # many ties
    b = a + torch.randn(3, 5, 5, generator=gen, dtype=torch.float64)
    ours = spearman(a, b)
    for k in range(3):
        ref = spearmanr(a[k].flatten().numpy(), b[k].flatten().numpy()).statistic
        assert ours[k].item() == pytest.approx(ref, abs=1e-12)
    assert spearman(b, 2 * b + 1).min().item() == pytest.approx(1.0)
    assert spearman(b, -b).max().item() == pytest.approx(-1.0)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="square"):
        birkhoff_distance(torch.ones(2, 3))
    with pytest.raises(ValueError, match="axis"):
        marginal_max_error(UNIFORM, axis="diagonal")
    with pytest.raises(ValueError, match="shape"):
        entropy(torch.ones(3))
    with pytest.raises(ValueError, match="dtype"):
        effective_rank(torch.ones(3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="broadcast"):
        spearman(torch.ones(2, 3, 3), torch.ones(4, 3, 3))


def test_entropy_of_rows_matches_numpy():
    gen = torch.Generator().manual_seed(2)
    p = torch.softmax(torch.randn(7, 3, generator=gen, dtype=torch.float64), -1)  # (7, 3)
    rows = p.numpy()
    expected = np.mean(-(rows * np.log(rows)).sum(1)) / np.log(3)
    assert entropy(p).item() == pytest.approx(expected, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), k=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_convex_mixtures_of_permutations_are_sound(n, k, seed):
    # Birkhoff-von Neumann: every mixture of permutation matrices is doubly stochastic.
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(k, generator=gen, dtype=torch.float64) + 0.01
    weights = weights / weights.sum()
    perms = torch.stack([torch.eye(n, dtype=torch.float64)[torch.randperm(n, generator=gen)]
                         for _ in range(k)])  # (k, n, n)
    p = (weights[:, None, None] * perms).sum(0)  # (n, n)
    assert birkhoff_distance(p).item() < 1e-6
    assert marginal_max_error(p).item() < 1e-12
    assert 0.0 <= entropy(p).item() <= 1.0 + 1e-12
    assert 1.0 - 1e-9 <= effective_rank(p).item() <= n + 1e-9
    # P + t J (J all ones): its affine projection subtracts exactly t J and lands on P, which
    # is in the polytope, so the distance is ||t J||_F = t n
    t = 0.1
    assert birkhoff_distance(p + t).item() == pytest.approx(t * n, abs=1e-6)
