"""Shot and depolarising noise on QontOT matrices: unbiased, right spread, exact sums, gradients."""

import math

import pytest
import torch

from qdsformer.hardware.bell import frequencies_to_dsm
from qdsformer.quantum import depolarize, get_ansatz, qontot_full_dsm, shot_estimate
from qdsformer.quantum.noise import multinomial_counts


def _dsm(batch=(), n_tokens=4, seed=0):
    """A circuit-made doubly stochastic (..., n, n) float64 matrix."""
    gen = torch.Generator().manual_seed(seed)
    ansatz = get_ansatz("simple", 3, 2)
    theta = torch.rand(ansatz.n_params, generator=gen, dtype=torch.float64) * 2 - 1
    scores = 2 * torch.randn(*batch, n_tokens, n_tokens, generator=gen, dtype=torch.float64)
    return qontot_full_dsm(scores, theta, ansatz)


@pytest.mark.parametrize("shots", [50, 10_000])
def test_shot_estimate_is_unbiased_with_the_multinomial_spread(shots):
    p = _dsm()  # (4, 4)
    n, draws = 4, 4000
    gen = torch.Generator().manual_seed(1)
    est = shot_estimate(p.expand(draws, n, n), shots, generator=gen, straight_through=False)
    q = p / n  # cell probabilities of one shot
    std_one = n * torch.sqrt(q * (1 - q) / shots)  # (n, n) std of one estimate
    z = (est.mean(0) - p) / (std_one / math.sqrt(draws))
    assert z.abs().max() < 5, z
    ratio = est.var(0) / std_one.square()
    assert ((ratio > 0.85) & (ratio < 1.15)).all(), ratio  # N shots, not some other count


def test_shot_estimate_counts_exactly_n_shots_per_matrix():
    p = _dsm((3, 2))  # (3, 2, 4, 4)
    est = shot_estimate(p, 37, generator=torch.Generator().manual_seed(0), straight_through=False)
    counts = est * 37 / 4
    torch.testing.assert_close(counts, counts.round(), atol=1e-9, rtol=0)
    torch.testing.assert_close(est.sum((-2, -1)), torch.full((3, 2), 4.0, dtype=torch.float64),
                               atol=1e-9, rtol=0)  # total mass n: mean row sum exactly 1
    assert (est >= 0).all() and est.dtype == p.dtype


def test_shot_estimate_reads_counts_like_the_hardware_readout():
    p = _dsm((5,))
    est = shot_estimate(p, 200, generator=torch.Generator().manual_seed(2), straight_through=False)
    freq = (est / 4).flatten(-2)  # joint frequencies of (D, D') per matrix, summing to 1
    torch.testing.assert_close(frequencies_to_dsm(freq, n_tokens=4), est, atol=1e-12, rtol=0)


def test_shot_estimate_gradient_is_that_of_the_exact_matrix():
    p = _dsm((2,)).requires_grad_(True)
    weights = torch.randn(2, 4, 4, dtype=torch.float64)
    (shot_estimate(p, 10) * weights).sum().backward()
    torch.testing.assert_close(p.grad, weights)


def test_depolarize_is_the_uniform_mixture_and_doubly_stochastic():
    p = _dsm((3,))
    for prob in (0.0, 0.1, 0.3, 1.0):
        mixed = depolarize(p, prob)
        torch.testing.assert_close(mixed, (1 - prob) * p + prob * torch.full_like(p, 0.25))
        ones = torch.ones(3, 4, dtype=torch.float64)
        torch.testing.assert_close(mixed.sum(-1), ones, atol=1e-6, rtol=0)
        torch.testing.assert_close(mixed.sum(-2), ones, atol=1e-6, rtol=0)
    assert depolarize(p, 0.0) is p


@pytest.mark.parametrize("shots", [-1, 2.5, True, "100"])
def test_bad_shots_are_refused(shots):
    with pytest.raises(ValueError, match=f"shots must be None or an int >= 0.*{shots!r}"):
        shot_estimate(_dsm(), shots)


@pytest.mark.parametrize("prob", [-0.1, 1.5, "0.1", None])
def test_bad_depolarizing_is_refused(prob):
    with pytest.raises(ValueError, match="depolarizing must be a number p in \\[0, 1\\]"):
        depolarize(_dsm(), prob)


def test_zero_shots_is_not_an_estimate():
    with pytest.raises(ValueError, match="shots >= 1"):
        shot_estimate(_dsm(), 0)


def test_multinomial_counts_have_the_multinomial_covariance():
    weights = torch.tensor([[0.1, 0.4, 0.0, 0.5]], dtype=torch.float64)  # one empty cell
    shots, draws = 30, 20000
    counts = multinomial_counts(weights.expand(draws, 4), shots,
                                generator=torch.Generator().manual_seed(3))  # (draws, 4)
    assert torch.equal(counts.sum(-1), torch.full((draws,), 30.0, dtype=torch.float64))
    assert (counts[:, 2] == 0).all() and (counts >= 0).all()
    q = weights[0]
    cov = shots * (torch.diag(q) - q[:, None] * q[None, :])  # Multinomial(N, q) covariance
    torch.testing.assert_close(counts.mean(0), shots * q, atol=0.1, rtol=0)  # SE ~ 0.02
    torch.testing.assert_close(torch.cov(counts.T), cov, atol=0.3, rtol=0)  # SE ~ 0.05


def test_multinomial_counts_refuses_a_non_power_of_two():
    with pytest.raises(ValueError, match="power-of-two number of cells, got 6"):
        multinomial_counts(torch.ones(2, 6), 10)
