"""f-distill on a 2-D testbed: one-step generators matched to a Gaussian-mixture teacher.

f-distill (Xu, Nie & Vahdat, 2025) trains a one-step generator G so that its distribution q
matches a diffusion teacher p under an f-divergence D_f(p || q) = E_q f(p / q). At noise level
sigma, with x_t = G(z) + sigma eps, the generator's gradient is

    grad_theta D_f = -E[ h(r(x_t)) (s_p(x_t, sigma) - s_q(x_t, sigma)) dx_t/dtheta ],
    h(r) = f''(r) r^2,   r = p_sigma / q_sigma,

so the reverse KL (h = 1) is DMD's score difference and the other divergences reweight it.
Here every piece is small and exact where it can be:

* teacher p: a mixture of 8 Gaussians (std 0.1) on a circle of radius 2 with unequal weights
  (proportional to 2^(-k/2), from 31% down to 2.7%), so that dropping the light modes shows;
  its score at every noise level is analytic (each component's variance grows by sigma^2);
* generator G: x = 1.5 z[:2] + MLP(z) from 4-D Gaussian noise z (one step); the skip makes
  the initial q broad, N(0, 1.5^2 I), covering every mode, the way f-distill's generator
  starts from the teacher rather than from a point;
* fake score s_q: an MLP trained by denoising score matching on G's samples;
* discriminator: an MLP on (x_t, log sigma) trained with logistic loss to tell noised teacher
  samples from noised generator samples; its logit estimates log r, r = exp(logit) clipped
  to [0.1, 20] as in f-distill;
* the generator loss is the surrogate -mean(stopgrad(w (s_p - s_q)) . x_t) with
  w = h(r) / mean_batch h(r) (f-distill's normalisation), h from qdsformer.divergences.weight.

One generator per divergence (reverse KL, forward KL, JS, squared Hellinger, Jeffreys), same
seeds and budget. Written to ``--out`` (default results/fdistill/): metrics.csv/json (modes
covered, fraction of high-quality samples, total variation between the mode histogram and the
teacher's weights, entropic OT cost to teacher samples), samples_<divergence>.png,
samples_all.png and table.md. Not reproduced: f-distill's GAN loss on the discriminator and its
teacher-feature discriminator head (this testbed isolates the h(r) weighting).

    python experiments/fdistill_2d.py                 # the reported run (a few minutes)
    python experiments/fdistill_2d.py --steps 20 --seeds 0 --out /tmp/fd   # smoke test
    python experiments/fdistill_2d.py --quick --out /tmp/fd   # a smoke run in seconds
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import time
from pathlib import Path

import torch
from torch import nn

DIVERGENCES = ("reverse_kl", "kl", "js", "hellinger", "jeffreys")
LABELS = {"reverse_kl": "reverse KL", "kl": "forward KL", "js": "Jensen-Shannon",
          "hellinger": "squared Hellinger", "jeffreys": "Jeffreys"}
N_MODES, RADIUS, MODE_STD = 8, 2.0, 0.1
INIT_SCALE = 1.5
SIGMA_MIN, SIGMA_MAX = 0.02, 2.0
R_CLIP = (0.1, 20.0)
NOISE_DIM = 4


def mode_centres(dtype=torch.float32) -> torch.Tensor:
    angles = 2 * math.pi * torch.arange(N_MODES, dtype=dtype) / N_MODES
    return RADIUS * torch.stack([angles.cos(), angles.sin()], dim=-1)  # (K, 2)


def mode_weights(dtype=torch.float32) -> torch.Tensor:
    w = 2.0 ** (-torch.arange(N_MODES, dtype=dtype) / 2)
    return w / w.sum()  # (K,)


def _component_logits(x: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log N(x; mu_k, v I) - log K for each component, and the variance v = std^2 + sigma^2."""
    mu = mode_centres(x.dtype)  # (K, 2)
    var = (MODE_STD**2 + sigma**2).reshape(-1, 1)  # (N, 1)
    sq = ((x.unsqueeze(1) - mu) ** 2).sum(-1)  # (N, K)
    log_w = mode_weights(x.dtype).log()  # (K,)
    logits = log_w - sq / (2 * var) - torch.log(2 * math.pi * var)  # (N, K)
    return logits, var


def teacher_log_density(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log p_sigma(x) of the noised mixture, x (N, 2), sigma (N,) -> (N,)."""
    logits, _ = _component_logits(x, sigma)
    return torch.logsumexp(logits, dim=-1)


def teacher_score(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """grad_x log p_sigma(x) = sum_k w_k(x) (mu_k - x) / (std^2 + sigma^2), (N, 2)."""
    logits, var = _component_logits(x, sigma)
    w = torch.softmax(logits, dim=-1)  # (N, K), posterior over components
    return (w @ mode_centres(x.dtype) - x) / var  # (N, 2)


def teacher_sample(n: int, gen: torch.Generator) -> torch.Tensor:
    k = torch.multinomial(mode_weights(), n, replacement=True, generator=gen)
    return mode_centres()[k] + MODE_STD * torch.randn(n, 2, generator=gen)  # (n, 2)


def sample_sigma(n: int, gen: torch.Generator) -> torch.Tensor:
    """Log-uniform noise levels in [SIGMA_MIN, SIGMA_MAX], (n,)."""
    u = torch.rand(n, generator=gen)
    return SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** u


def mlp(d_in: int, d_out: int, width: int = 64) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                         nn.Linear(width, width), nn.SiLU(), nn.Linear(width, d_out))


class Generator(nn.Module):
    """x = INIT_SCALE * z[:2] + MLP(z): one step from noise z (N, NOISE_DIM) to R^2."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp(NOISE_DIM, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return INIT_SCALE * z[:, :2] + self.net(z)  # (N, 2)


class NoiseConditioned(nn.Module):
    """An MLP on (x_t, log sigma); the fake score divides its output by sigma."""

    def __init__(self, d_out: int) -> None:
        super().__init__()
        self.net = mlp(3, d_out)

    def forward(self, x_t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x_t, sigma.log().unsqueeze(-1)], dim=-1))


def fdistill_weights(logits: torch.Tensor, divergence: str) -> torch.Tensor:
    """w = h(r) / mean(h(r)), r = exp(discriminator logit) clipped to [0.1, 20], (N,)."""
    from qdsformer.divergences import weight

    r = logits.detach().exp().clamp(*R_CLIP)  # (N,)
    h = weight(divergence, r)  # (N,)
    return h / h.mean()


def train_generator(divergence: str, steps: int, seed: int, batch: int = 128,
                    critic_steps: int = 2, warmup: int = 300,
                    lr: float = 1e-3) -> tuple[nn.Module, dict]:
    """Train one generator under ``divergence``; returns it and its training log (the
    effective sample size of the weights, (sum w)^2 / (B sum w^2), every 100 steps)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    generator = Generator()
    fake_score = NoiseConditioned(2)
    disc = NoiseConditioned(1)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.0, 0.99))
    opt_s = torch.optim.Adam(fake_score.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
    bce = nn.BCEWithLogitsLoss()

    def critic_step() -> None:
        with torch.no_grad():
            x_fake = generator(torch.randn(batch, NOISE_DIM, generator=gen))  # (B, 2)
        sigma = sample_sigma(batch, gen)  # (B,)
        eps = torch.randn(batch, 2, generator=gen)
        x_t = x_fake + sigma.unsqueeze(-1) * eps
        dsm = ((fake_score(x_t, sigma) + eps) ** 2).sum(-1).mean()  # net predicts -eps
        opt_s.zero_grad()
        dsm.backward()
        opt_s.step()
        x_real = teacher_sample(batch, gen) + sigma.unsqueeze(-1) * torch.randn(batch, 2,
                                                                                 generator=gen)
        logits = torch.cat([disc(x_real, sigma), disc(x_t, sigma)]).squeeze(-1)  # (2B,)
        labels = torch.cat([torch.ones(batch), torch.zeros(batch)])
        loss = bce(logits, labels)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()

    for _ in range(warmup):
        critic_step()
    log = {"weight_ess": []}
    for step in range(steps):
        for _ in range(critic_steps):
            critic_step()
        x = generator(torch.randn(batch, NOISE_DIM, generator=gen))  # (B, 2)
        sigma = sample_sigma(batch, gen)
        x_t = x + sigma.unsqueeze(-1) * torch.randn(batch, 2, generator=gen)  # (B, 2)
        with torch.no_grad():
            score_gap = teacher_score(x_t, sigma) - fake_score(x_t, sigma) / sigma.unsqueeze(-1)
            w = fdistill_weights(disc(x_t, sigma).squeeze(-1), divergence)  # (B,)
        loss = -((w.unsqueeze(-1) * score_gap) * x_t).sum(-1).mean()
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        if step % 100 == 0:
            log["weight_ess"].append(float(w.sum() ** 2 / (batch * (w**2).sum())))
    return generator, log


@torch.no_grad()
def evaluate(generator: nn.Module, n: int, seed: int) -> dict:
    """Mode coverage and sample quality of ``n`` generator samples.

    A sample is high quality when within 3 std of a mode centre; a mode is covered when it
    holds at least 1% of all samples (the lightest mode's weight is 2.7%). ``mode_tv`` is the
    total variation between the high-quality samples' mode histogram and the teacher's weights.
    """
    from qdsformer.ot.sinkhorn import sinkhorn

    gen = torch.Generator().manual_seed(10_000 + seed)
    x = generator(torch.randn(n, NOISE_DIM, generator=gen))  # (n, 2)
    dist = torch.cdist(x, mode_centres())  # (n, K)
    nearest = dist.min(dim=-1)
    good = nearest.values < 3 * MODE_STD  # (n,)
    counts = torch.bincount(nearest.indices[good], minlength=N_MODES).float()  # (K,)
    share = counts / n
    m = min(n, 1000)
    cost = torch.cdist(x[:m].double(), teacher_sample(m, gen).double()) ** 2  # (m, m)
    ot = sinkhorn(cost, epsilon=0.05, n_iters=501)
    return {
        "modes_covered": int((share >= 0.01).sum()),
        "high_quality": float(good.float().mean()),
        "mode_tv": float(0.5 * (counts / counts.sum().clamp_min(1) - mode_weights()).abs().sum()),
        "ot_cost": float(ot.transport_cost),
    }


def plot(samples: dict[str, torch.Tensor], metrics: dict[str, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = torch.linspace(-3, 3, 200)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
    density = teacher_log_density(pts, torch.zeros(len(pts))).exp().reshape(200, 200)
    levels = (density.max() * torch.tensor([0.05, 0.3, 0.7])).tolist()

    def panel(ax, name):
        ax.contour(xx, yy, density, levels=levels, colors="0.6", linewidths=0.6)
        s = samples[name]
        ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.4, color="tab:blue")
        m = metrics[name]
        ax.set_title(f"{LABELS[name]}: {m['modes_covered']}/{N_MODES} modes, "
                     f"HQ {100 * m['high_quality']:.0f}%", fontsize=9)
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])

    for name in samples:
        fig, ax = plt.subplots(figsize=(3.5, 3.5))
        panel(ax, name)
        fig.tight_layout()
        fig.savefig(out / f"samples_{name}.png", dpi=110)
        plt.close(fig)
    fig, axes = plt.subplots(1, len(samples), figsize=(3.2 * len(samples), 3.4))
    for ax, name in zip(axes if len(samples) > 1 else [axes], samples):
        panel(ax, name)
    fig.tight_layout()
    fig.savefig(out / "samples_all.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/fdistill")
    parser.add_argument("--steps", type=int, default=2500, help="generator updates")
    parser.add_argument("--warmup", type=int, default=300, help="critic steps before G moves")
    parser.add_argument("--lr", type=float, default=1e-3, help="generator learning rate")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--divergences", nargs="+", default=list(DIVERGENCES),
                        choices=list(DIVERGENCES))
    parser.add_argument("--n-eval", type=int, default=5000, help="samples for the metrics")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds: 3 steps, 2 warmup steps, seed 0, 400 "
                             "evaluation samples (overrides those options)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.seeds, args.n_eval = 3, 2, [0], 400
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows, samples, first_seed = [], {}, {}
    for name in args.divergences:
        for seed in args.seeds:
            started = time.perf_counter()
            generator, log = train_generator(name, args.steps, seed, warmup=args.warmup,
                                             lr=args.lr)
            metrics = evaluate(generator, args.n_eval, seed)
            row = {"divergence": name, "seed": seed, **metrics,
                   "weight_ess": round(statistics.mean(log["weight_ess"]), 4),
                   "seconds": round(time.perf_counter() - started, 1)}
            rows.append(row)
            print(f"{name:>10} seed {seed}: {metrics['modes_covered']}/{N_MODES} modes, "
                  f"HQ {metrics['high_quality']:.3f}, mode TV {metrics['mode_tv']:.3f}, "
                  f"OT {metrics['ot_cost']:.4f} ({row['seconds']}s)", flush=True)
            if seed == args.seeds[0]:
                with torch.no_grad():
                    samples[name] = generator(torch.randn(2000, NOISE_DIM))
                first_seed[name] = metrics

    with open(out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {}
    for name in args.divergences:
        mine = [r for r in rows if r["divergence"] == name]
        summary[name] = {
            key: {"mean": statistics.mean(r[key] for r in mine),
                  "std": statistics.stdev(r[key] for r in mine) if len(mine) > 1 else 0.0}
            for key in ("modes_covered", "high_quality", "mode_tv", "ot_cost", "weight_ess")}
    settings = {"steps": args.steps, "warmup": args.warmup, "lr": args.lr, "seeds": args.seeds,
                "n_eval": args.n_eval, "modes": N_MODES, "radius": RADIUS,
                "mode_std": MODE_STD, "mode_weights": mode_weights().tolist(),
                "init_scale": INIT_SCALE, "sigma_range": [SIGMA_MIN, SIGMA_MAX], "r_clip": R_CLIP}
    (out / "metrics.json").write_text(json.dumps({"settings": settings, "summary": summary,
                                                  "runs": rows}, indent=2))
    plot(samples, first_seed, out)
    table = [("| divergence | modes covered (of 8) | high-quality % | mode TV | OT cost | "
              "weight ESS |"), "|---|---|---|---|---|---|"]
    for name, s in summary.items():
        table.append(
            f"| {LABELS[name]} | {s['modes_covered']['mean']:.2f} +- "
            f"{s['modes_covered']['std']:.2f} | {100 * s['high_quality']['mean']:.1f} +- "
            f"{100 * s['high_quality']['std']:.1f} | {s['mode_tv']['mean']:.3f} +- "
            f"{s['mode_tv']['std']:.3f} | {s['ot_cost']['mean']:.3f} +- "
            f"{s['ot_cost']['std']:.3f} | {s['weight_ess']['mean']:.2f} |")
    (out / "table.md").write_text("\n".join(table) + "\n")
    print("\n" + "\n".join(table))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
