"""Distillation losses: KD closed forms and gradient, SinKD vs POT, debiasing, short distillation."""

import pytest
import torch
import torch.nn.functional as F

from qdsformer.divergences import divergence
from qdsformer.kd import DistillationLoss, kd_loss, sinkd_loss


def _logits(b=6, c=5, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return 2 * torch.randn(b, c, generator=gen, dtype=dtype)


def test_kd_is_t_squared_forward_kl_teacher_to_student():
    s, t = _logits(seed=1), _logits(seed=2)
    temp = 3.0
    expected = temp**2 * F.kl_div((s / temp).log_softmax(-1), (t / temp).softmax(-1),
                                  reduction="batchmean")
    torch.testing.assert_close(kd_loss(s, t, temperature=temp), expected)
    unscaled = kd_loss(s, t, temperature=temp, scale_by_temperature=False)
    torch.testing.assert_close(unscaled * temp**2, expected)
    reverse = kd_loss(s, t, temperature=temp, divergence="reverse_kl")
    torch.testing.assert_close(reverse, temp**2 * divergence("kl", s / temp, t / temp))


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "js", "skew_kl"])
def test_kd_zero_when_student_equals_teacher(name):
    t = _logits(dtype=torch.float32)
    assert kd_loss(t.clone(), t, divergence=name).abs() < 1e-6


def test_kd_gradient_is_temperature_times_probability_gap():
    """dL/dz_s = T (softmax(z_s/T) - softmax(z_t/T)) / B: it pushes each student logit toward
    the teacher's distribution, with a magnitude that does not vanish as T grows."""
    s, t = _logits(seed=3).requires_grad_(), _logits(seed=4)
    temp = 4.0
    kd_loss(s, t, temperature=temp).backward()
    expected = temp * ((s / temp).softmax(-1) - (t / temp).softmax(-1)) / s.shape[0]
    torch.testing.assert_close(s.grad, expected.detach())


def test_teacher_is_detached_by_default():
    s, t = _logits().requires_grad_(), _logits(seed=5).requires_grad_()
    (kd_loss(s, t) + sinkd_loss(s, t)).backward()
    assert t.grad is None and s.grad is not None
    t.grad = None
    kd_loss(s, t, detach_teacher=False).backward()
    assert t.grad is not None


def test_sinkd_matches_pot_sinkhorn2_with_mass_one():
    ot = pytest.importorskip("ot")
    s, t = _logits(b=7, c=4, seed=6), _logits(b=7, c=4, seed=7)
    ps, pt = s.softmax(-1), t.softmax(-1)
    cost = (ps[:, None, :] - pt[None, :, :]).abs().sum(-1)
    uniform = torch.full((7,), 1 / 7, dtype=torch.float64)
    expected = ot.sinkhorn2(uniform.numpy(), uniform.numpy(), cost.numpy(), reg=0.1,
                            numItermax=10_000, stopThr=1e-13)
    got = sinkd_loss(s, t, epsilon=0.1, n_iters=2001)
    assert abs(got.item() - float(expected)) < 1e-9


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("cost", ["l1", "sqeuclidean"])
def test_sinkd_does_not_grow_with_batch_size(cost, debiased):
    """Duplicating the batch duplicates both point clouds: the mass-1 loss is unchanged."""
    s, t = _logits(seed=10), _logits(seed=11)
    once = sinkd_loss(s, t, cost_fn=cost, debiased=debiased)
    twice = sinkd_loss(torch.cat([s, s]), torch.cat([t, t]), cost_fn=cost, debiased=debiased)
    torch.testing.assert_close(twice, once, rtol=1e-10, atol=1e-12)


def test_sinkd_debiased_is_zero_at_equality_and_plain_form_is_not():
    t = _logits(b=16, c=10, seed=12)
    assert sinkd_loss(t.clone(), t, debiased=True).abs() < 1e-12
    # the entropic blur the debiased form removes: 1e-3 at T = 1, 7e-2 at T = 4 on this batch
    assert sinkd_loss(t.clone(), t, temperature=4.0) > 1e-2


@pytest.mark.parametrize("cost", ["l1", "sqeuclidean"])
def test_sinkd_debiased_is_positive_for_different_batches(cost):
    for seed in range(5):
        s, t = _logits(b=9, c=4, seed=20 + seed), _logits(b=9, c=4, seed=40 + seed)
        assert sinkd_loss(s, t, cost_fn=cost, debiased=True, n_iters=401, epsilon=0.05) > 0


@pytest.mark.parametrize("cost", ["l1", "sqeuclidean"])
def test_sinkd_gradient_descent_moves_student_onto_teacher(cost):
    t = _logits(b=8, c=5, seed=13)
    s = (t + 0.5 * _logits(b=8, c=5, seed=14)).requires_grad_()
    opt = torch.optim.Adam([s], lr=0.05)

    def gap():
        return (s.softmax(-1) - t.softmax(-1)).abs().sum(-1).mean().item()

    first_gap = gap()
    first_loss = sinkd_loss(s, t, cost_fn=cost, debiased=True, n_iters=41).item()
    for _ in range(100):
        loss = sinkd_loss(s, t, cost_fn=cost, debiased=True, n_iters=41)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert sinkd_loss(s, t, cost_fn=cost, debiased=True, n_iters=41).item() < 0.05 * first_loss
    assert gap() < 0.1 * first_gap


def _distil(weights, steps=60):
    """Fit a linear student to a fixed MLP teacher; returns (first, last) total and KD losses."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=gen)
    teacher = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))
    student = torch.nn.Linear(8, 4)
    with torch.no_grad():
        teacher_logits = 3 * teacher(x)
    labels = teacher_logits.argmax(-1)
    criterion = DistillationLoss(**weights, temperature=2.0, debiased=True)
    opt = torch.optim.Adam(student.parameters(), lr=0.05)
    totals, kds = [], []
    for _ in range(steps + 1):
        logits = student(x)
        loss, parts = criterion(logits, teacher_logits, labels)
        totals.append(loss.item())
        kds.append(kd_loss(logits, teacher_logits, temperature=2.0).item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert set(parts) == {k for k, w in (("ce", "ce_weight"), ("kd", "kd_weight"), ("sinkd", "sinkd_weight"))
                          if weights.get(w, 0)}
    return (totals[0], totals[-1]), (kds[0], kds[-1])


@pytest.mark.parametrize("weights", [{"ce_weight": 0.0, "kd_weight": 1.0},
                                     {"ce_weight": 0.5, "kd_weight": 0.5, "sinkd_weight": 0.8}])
def test_short_distillation_decreases_the_kd_loss(weights):
    (total0, total1), (kd0, kd1) = _distil(weights)
    assert total1 < 0.5 * total0
    assert kd1 < 0.5 * kd0


def test_sinkd_alone_matches_the_output_distribution_not_each_sample():
    """SinKD is a distance between the batch's two point clouds, blind to which student output
    belongs to which input: alone it falls while the per-sample KD loss does not (hence the
    paper combines it with KD and CE)."""
    (total0, total1), (kd0, kd1) = _distil({"ce_weight": 0.0, "sinkd_weight": 1.0})
    assert total1 < 0.5 * total0
    assert kd1 > 0.8 * kd0


def test_combined_loss_is_the_weighted_sum_of_its_parts():
    s, t = _logits(seed=15), _logits(seed=16)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    criterion = DistillationLoss(ce_weight=0.3, kd_weight=0.7, sinkd_weight=0.8, temperature=2.0,
                                 divergence="js", debiased=True)
    total, parts = criterion(s, t, labels)
    expected = (0.3 * F.cross_entropy(s, labels)
                + 0.7 * kd_loss(s, t, temperature=2.0, divergence="js")
                + 0.8 * sinkd_loss(s, t, debiased=True))
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(sum(w * parts[k] for k, w in
                                   (("ce", 0.3), ("kd", 0.7), ("sinkd", 0.8))), expected)


def test_bad_input_raises_value_error():
    s, t = _logits(), _logits(seed=1)
    with pytest.raises(ValueError, match=r"student_logits \(6, 5\) and teacher_logits \(6, 4\)"):
        kd_loss(s, t[:, :4])
    with pytest.raises(ValueError, match=r"shape \(B, C\), got \(6, 5, 1\)"):
        sinkd_loss(s[..., None], t[..., None])
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            kd_loss(s, t, temperature=bad)
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            sinkd_loss(s, t, temperature=bad)
    with pytest.raises(ValueError, match="unknown divergence 'kld'"):
        kd_loss(s, t, divergence="kld")
    with pytest.raises(ValueError, match="unknown SinKD cost 'l2'"):
        sinkd_loss(s, t, cost_fn="l2")
    with pytest.raises(ValueError, match=r"^sinkhorn: epsilon must be a finite number > 0, got 0.0$"):
        sinkd_loss(s, t, epsilon=0.0)
    with pytest.raises(ValueError, match="unknown divergence 'kld'"):
        DistillationLoss(divergence="kld")
    with pytest.raises(ValueError, match="loss weight kd_weight must be >= 0, got -1"):
        DistillationLoss(kd_weight=-1)
    with pytest.raises(ValueError, match="all loss weights"):
        DistillationLoss(ce_weight=0.0)
    with pytest.raises(ValueError, match=r"labels must have shape \(6,\)"):
        DistillationLoss()(s, t, torch.zeros(5, dtype=torch.long))


def test_losses_do_not_import_the_training_stack():
    """kd -> {divergences, ot}: only the distill command reaches up into train/models/data."""
    import subprocess
    import sys

    code = ("import sys, qdsformer.kd, qdsformer.divergences; "
            "bad = [m for m in sys.modules if m.split('.')[:2] in "
            "(['qdsformer', 'train'], ['qdsformer', 'models'], ['qdsformer', 'data'])]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
