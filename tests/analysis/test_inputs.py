"""Input sets: the 625-matrix sphere grid, the hypercube grid, random and captured scores."""

import itertools

import pytest
import torch
from torch import nn

from qdsformer.analysis import (
    capture_scores,
    grid_unit_vectors,
    hypercube_grid,
    random_scores,
    sphere_grid,
    unique_count,
)
from qdsformer.attention import create_normalizer


def test_sphere_grid_has_625_distinct_matrices_with_unit_grid_columns():
    grid = sphere_grid()
    assert grid.shape == (625, 4, 4)
    assert unique_count(grid) == 625
    norms = torch.linalg.vector_norm(grid.double(), dim=-2)  # column norms (625, 4)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert set(grid.unique().tolist()) <= {0.0, 0.5, 1.0}  # a subset of the hypercube grid


def test_grid_unit_vectors_by_brute_force():
    # every point of {0, 1/2, 1}^4 with unit norm, found with floats independently
    found = {k for k in itertools.product((0.0, 0.5, 1.0), repeat=4)
             if abs(sum(x * x for x in k) - 1.0) < 1e-12}
    ours = {tuple(v) for v in grid_unit_vectors(4, 3).tolist()}
    assert ours == found and len(ours) == 5
    assert len(grid_unit_vectors(2, 3)) == 2  # only e_1, e_2 in the plane
    assert sphere_grid(2).shape == (4, 2, 2)


def test_hypercube_grid_sample_is_distinct_seeded_and_on_grid():
    a = hypercube_grid(n_samples=500, seed=0)
    assert a.shape == (500, 4, 4)
    assert unique_count(a) == 500
    assert set(a.unique().tolist()) <= {0.0, 0.5, 1.0}
    torch.testing.assert_close(a, hypercube_grid(n_samples=500, seed=0))
    assert not torch.equal(a, hypercube_grid(n_samples=500, seed=1))


def test_hypercube_full_grid_and_index_decoding():
    full = hypercube_grid(n=2, levels=3, n_samples=None)
    assert full.shape == (81, 2, 2) and unique_count(full) == 81
    # index k = sum_e digit_e 3^e over entries in row-major order
    k = 1 * 1 + 2 * 3 + 0 * 9 + 1 * 27
    torch.testing.assert_close(full[k], torch.tensor([[0.5, 1.0], [0.0, 0.5]]))
    dense = hypercube_grid(n=2, levels=3, n_samples=60, seed=4)  # dense sampling path
    assert unique_count(dense) == 60


def test_hypercube_grid_rejects_bad_sizes():
    with pytest.raises(ValueError, match="subsample"):
        hypercube_grid(n_samples=None)
    with pytest.raises(ValueError, match="exceeds"):
        hypercube_grid(n=2, n_samples=82)
    with pytest.raises(ValueError, match="levels"):
        hypercube_grid(levels=1)


def test_random_scores_seeded():
    a = random_scores(10, n=8, scale=2.0, seed=5)
    assert a.shape == (10, 8, 8)
    torch.testing.assert_close(a, random_scores(10, n=8, scale=2.0, seed=5))
    assert 1.5 < a.std().item() < 2.5
    with pytest.raises(ValueError, match="scale"):
        random_scores(3, scale=0.0)


class _TinyAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qk = nn.Linear(3, 6)
        self.norm = create_normalizer("sinkhorn", n_iters=3)

    def forward(self, x):  # x (B, T, 3)
        q, k = self.qk(x).chunk(2, -1)
        return self.norm((q @ k.transpose(-1, -2))[:, None])  # (B, 1, T, T)


def test_capture_scores_records_normaliser_inputs():
    model = _TinyAttention()
    x = torch.randn(4, 5, 3)
    scores = capture_scores(model, [x[:2], x[2:]])
    assert len(scores) == 1 and scores[0].shape == (4, 1, 5, 5)
    q, k = model.qk(x).chunk(2, -1)
    torch.testing.assert_close(scores[0][:, 0], (q @ k.transpose(-1, -2)).detach())
    assert not model.norm._forward_hooks  # hooks removed
    with pytest.raises(ValueError, match="no attention Normalizer"):
        capture_scores(nn.Linear(2, 2), torch.zeros(1, 2))
