"""The qontot attention normaliser: registry contract, gradients, theta modes, bad input."""

import pytest
import torch

from qdsformer.attention import create_normalizer, get_normalizer_class
from qdsformer.quantum import get_ansatz, qontot_dsm

SMALL = {"n_layers": 2, "n_aux_qubits": 1}


def test_registered_as_doubly_stochastic_and_square():
    cls = get_normalizer_class("qontot")
    assert cls.doubly_stochastic and cls.requires_square
    norm = create_normalizer("qontot")
    assert (norm.n_aux_qubits, norm.n_layers, norm.ansatz_name, norm.seed) == (
        4, 16, "simple", 0)
    assert (norm.strategy, norm.shots, norm.depolarizing, norm.noise_in_eval) == (
        "static", 0, 0.0, False)


@pytest.mark.parametrize("t", [2, 3, 5, 6, 7, 8])
@pytest.mark.parametrize("ansatz", ["simple", "parted"])
def test_doubly_stochastic_including_padded_sizes(t, ansatz):
    norm = create_normalizer("qontot", ansatz=ansatz, n_layers=3, n_aux_qubits=2)
    p = norm(2 * torch.randn(3, 2, t, t))  # (B, H, T, T) float32
    ones = torch.ones(3, 2, t)
    torch.testing.assert_close(p.sum(-1), ones, atol=1e-5, rtol=0)
    torch.testing.assert_close(p.sum(-2), ones, atol=1e-5, rtol=0)
    assert (p >= 0).all() and p.dtype == torch.float32


def test_matches_the_pure_function_with_the_seeded_theta():
    norm = create_normalizer("qontot", n_layers=2, n_aux_qubits=2, seed=3)
    scores = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    ansatz = get_ansatz("simple", 4, 2)  # 2 data + 2 auxiliary qubits
    theta = torch.rand(norm.theta.shape[0], generator=torch.Generator().manual_seed(3)) * 2 - 1
    assert (theta.abs() <= 1).all()
    expected = qontot_dsm(scores, theta[: ansatz.n_params].double(), ansatz)
    torch.testing.assert_close(norm(scores), expected, atol=1e-12, rtol=0)


def test_each_head_gets_its_own_matrix_from_its_scores():
    norm = create_normalizer("qontot", **SMALL)
    scores = torch.randn(1, 2, 4, 4)
    p = norm(scores)
    assert not torch.allclose(p[0, 0], p[0, 1])
    torch.testing.assert_close(p[:, 1:], norm(scores[:, 1:]))


def test_gradcheck_wrt_scores():
    norm = create_normalizer("qontot", **SMALL)
    scores = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(norm, (scores,))


def test_static_theta_is_a_seeded_buffer_and_scores_still_get_gradient():
    a = create_normalizer("qontot", **SMALL, seed=1)
    b = create_normalizer("qontot", **SMALL, seed=1)
    c = create_normalizer("qontot", **SMALL, seed=2)
    assert "theta" in dict(a.named_buffers()) and not list(a.parameters())
    assert torch.equal(a.theta, b.theta) and not torch.equal(a.theta, c.theta)
    scores = torch.randn(2, 1, 4, 4, requires_grad=True)
    (a(scores) * torch.randn(2, 1, 4, 4)).sum().backward()
    assert scores.grad.abs().sum() > 0


def test_trainable_theta_gets_gradient_and_training_changes_the_matrix():
    norm = create_normalizer("qontot", **SMALL, strategy="differentiable")
    params = dict(norm.named_parameters())
    assert list(params) == ["theta"]
    scores = torch.randn(4, 1, 4, 4)
    target = torch.eye(4).expand(4, 1, 4, 4)
    optim = torch.optim.Adam(norm.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        optim.zero_grad()
        loss = (norm(scores) - target).square().sum()
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
    assert norm.theta.grad[:get_ansatz("simple", 3, 2).n_params].abs().sum() > 0
    assert losses[-1] < losses[0]


def test_state_dict_round_trip():
    a = create_normalizer("qontot", **SMALL, strategy="differentiable", seed=5)
    b = create_normalizer("qontot", **SMALL, strategy="differentiable", seed=6)
    b.load_state_dict(a.state_dict())
    scores = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(a(scores), b(scores))


def test_bad_input_names_the_value():
    norm = create_normalizer("qontot", n_aux_qubits=4)
    with pytest.raises(ValueError, match="T = 32 needs 5 data \\+ 4 auxiliary = 9 qubits"):
        norm(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="NaN or infinite"):
        norm(torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="square"):
        norm(torch.randn(1, 1, 4, 5))
    with pytest.raises(ValueError, match="unknown ansatz 'zigzag'"):
        create_normalizer("qontot", ansatz="zigzag")
    with pytest.raises(ValueError, match="n_aux_qubits must be an int >= 0, got -1"):
        create_normalizer("qontot", n_aux_qubits=-1)
    with pytest.raises(ValueError, match="n_layers must be an int >= 1, got 0"):
        create_normalizer("qontot", n_layers=0)


def test_strategies():
    static = create_normalizer("qontot", **SMALL, strategy="static")
    diff = create_normalizer("qontot", **SMALL, strategy="differentiable")
    mixed = create_normalizer("qontot", **SMALL, strategy="mixed")
    assert "theta" in dict(static.named_buffers()) and not list(static.parameters())
    assert list(dict(diff.named_parameters())) == ["theta"]
    assert "theta" in dict(mixed.named_buffers()) and not list(mixed.parameters())
    assert create_normalizer("qontot", **SMALL).strategy == "static"
    with pytest.raises(ValueError, match="unknown strategy 'learned'; expected one of static, "
                                         "differentiable, mixed"):
        create_normalizer("qontot", strategy="learned")


@pytest.mark.parametrize(("trainable", "strategy"), [(True, "differentiable"), (False, "static")])
def test_the_deprecated_trainable_switch_still_works_and_warns(trainable, strategy):
    with pytest.warns(FutureWarning, match=f"^qontot: trainable is deprecated; use strategy: "
                                           f"{strategy}$"):
        norm = create_normalizer("qontot", **SMALL, trainable=trainable)
    assert norm.strategy == strategy
    assert (list(dict(norm.named_parameters())) == ["theta"]) == trainable
    with pytest.warns(FutureWarning, match="QontOT.trainable is deprecated"):
        assert norm.trainable is trainable


def test_trainable_with_strategy_or_not_a_bool_is_one_line():
    with pytest.raises(ValueError, match=r"^qontot: give strategy only, not also trainable "
                                         r"\(deprecated\), got strategy='mixed' and "
                                         r"trainable=False$"):
        create_normalizer("qontot", strategy="mixed", trainable=False)
    with pytest.raises(ValueError, match="^qontot: trainable must be true or false, got 'yes'$"):
        create_normalizer("qontot", trainable="yes")


@pytest.mark.parametrize("t", [3, 4])
def test_noise_only_in_training_and_gradients_are_those_of_the_exact_matrix(t):
    torch.manual_seed(0)
    scores = torch.randn(3, 2, t, t, dtype=torch.float64)
    weights = torch.randn(3, 2, t, t, dtype=torch.float64)
    exact = create_normalizer("qontot", **SMALL).double()
    noisy = create_normalizer("qontot", **SMALL, shots=64).double()

    def value_and_grad(norm):
        s = scores.clone().requires_grad_(True)
        p = norm(s)
        (p * weights).sum().backward()
        return p.detach(), s.grad

    p_exact, g_exact = value_and_grad(exact)
    p_noisy, g_noisy = value_and_grad(noisy.train())
    assert (p_noisy - p_exact).abs().max() > 1e-3  # shot noise of 64 shots is visible
    torch.testing.assert_close(g_noisy, g_exact, atol=1e-10, rtol=0)
    counts = p_noisy * 64 / 4  # t = 3 and 4: n = 4; a padded corner is completed, not counted
    if t == 4:
        torch.testing.assert_close(counts, counts.round(), atol=1e-9, rtol=0)
    torch.testing.assert_close(noisy.eval()(scores), p_exact, atol=0, rtol=0)  # eval: exact


def test_depolarizing_in_training_is_doubly_stochastic_and_shrinks_toward_uniform():
    scores = torch.randn(2, 1, 3, 3, dtype=torch.float64)  # padded: n = 4, T = 3
    exact = create_normalizer("qontot", **SMALL).double()(scores)
    norm = create_normalizer("qontot", **SMALL, depolarizing=0.3).double()
    p = norm(scores)
    ones = torch.ones(2, 1, 3, dtype=torch.float64)
    torch.testing.assert_close(p.sum(-1), ones, atol=1e-6, rtol=0)
    torch.testing.assert_close(p.sum(-2), ones, atol=1e-6, rtol=0)
    assert (p - 1 / 3).abs().sum() < (exact - 1 / 3).abs().sum()
    torch.testing.assert_close(norm.eval()(scores), exact, atol=0, rtol=0)
    full = create_normalizer("qontot", **SMALL, depolarizing=0.3).double()
    s4 = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(full(s4), 0.7 * full.eval()(s4) + 0.3 / 4)


def test_noise_in_eval_keeps_the_noise_in_eval_mode():
    scores = torch.randn(2, 1, 4, 4)
    exact = create_normalizer("qontot", **SMALL).eval()(scores)
    norm = create_normalizer("qontot", **SMALL, shots=32, depolarizing=0.1, noise_in_eval=True)
    p = norm.eval()(scores)
    assert (p - exact).abs().max() > 1e-3
    torch.testing.assert_close(p.sum((-2, -1)), torch.full((2, 1), 4.0), atol=1e-5, rtol=0)
    torch.manual_seed(5)
    a = norm(scores)
    torch.manual_seed(5)
    torch.testing.assert_close(norm(scores), a, atol=0, rtol=0)  # the global RNG seeds it


def test_bad_noise_settings_name_the_value():
    with pytest.raises(ValueError, match="shots must be None or an int >= 0.*got -5"):
        create_normalizer("qontot", shots=-5)
    with pytest.raises(ValueError, match="shots must be None or an int >= 0.*got 10.5"):
        create_normalizer("qontot", shots=10.5)
    with pytest.raises(ValueError, match="depolarizing must be a number p in \\[0, 1\\], got 1.2"):
        create_normalizer("qontot", depolarizing=1.2)
    with pytest.raises(ValueError, match="noise_in_eval must be true or false, got 1"):
        create_normalizer("qontot", noise_in_eval=1)
    assert create_normalizer("qontot", shots=None).shots == 0
