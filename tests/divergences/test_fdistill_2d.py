"""The f-distill 2-D testbed script: analytic teacher score, h(r) weights, the fast path."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "fdistill_2d.py"


@pytest.fixture(scope="module")
def fd():
    spec = importlib.util.spec_from_file_location("fdistill_2d", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_teacher_score_is_the_gradient_of_the_noised_log_density(fd):
    gen = torch.Generator().manual_seed(0)
    x = (3 * torch.randn(50, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    sigma = torch.tensor([0.0, 0.02, 0.3, 2.0], dtype=torch.float64).repeat_interleave(
        13)[:50]
    (grad,) = torch.autograd.grad(fd.teacher_log_density(x, sigma).sum(), x)
    torch.testing.assert_close(fd.teacher_score(x.detach(), sigma), grad)


def test_teacher_density_is_normalised_and_score_has_zero_mean(fd):
    grid = torch.linspace(-4, 4, 401, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
    sigma = torch.full((len(pts),), 0.3, dtype=torch.float64)
    mass = fd.teacher_log_density(pts, sigma).exp().sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass.item() - 1) < 1e-3
    x = fd.teacher_sample(20000, torch.Generator().manual_seed(1))
    score = fd.teacher_score(x, torch.zeros(len(x)))  # E_p[grad log p] = 0
    assert score.mean(0).abs().max() < 3 * score.std(0).max() / math.sqrt(len(x)) + 1e-3


def test_weights_are_h_of_clipped_ratio_normalised_by_batch_mean(fd):
    logits = torch.log(torch.tensor([0.01, 0.5, 1.0, 4.0, 100.0]))
    r = torch.tensor([0.1, 0.5, 1.0, 4.0, 20.0])  # clipped to [0.1, 20]
    for name, h in (("reverse_kl", torch.ones_like(r)), ("kl", r), ("jeffreys", r + 1),
                    ("js", r / (r + 1)), ("hellinger", r.sqrt())):
        w = fd.fdistill_weights(logits, name)
        torch.testing.assert_close(w, h / h.mean())
        assert abs(w.mean().item() - 1) < 1e-6


def test_fast_path_writes_metrics_and_plots(fd, tmp_path, capsys):
    code = fd.main(["--steps", "3", "--warmup", "2", "--seeds", "0", "1", "--n-eval", "400",
                    "--out", str(tmp_path), "--divergences", "reverse_kl", "kl"])
    assert code == 0
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["divergence"] for r in data["runs"]] == ["reverse_kl"] * 2 + ["kl"] * 2
    for row in data["runs"]:
        assert 0 <= row["modes_covered"] <= 8 and 0 <= row["high_quality"] <= 1
        assert 0 <= row["mode_tv"] <= 1 and row["ot_cost"] > 0
    assert set(data["summary"]) == {"reverse_kl", "kl"}
    for name in ("samples_reverse_kl.png", "samples_kl.png", "samples_all.png", "metrics.csv",
                 "table.md"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| reverse KL |" in capsys.readouterr().out
