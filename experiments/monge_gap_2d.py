"""Fit a Monge map between two 2-D Gaussians with and without the Monge gap regulariser.

The squared-Euclidean OT map between N(m1, S1) and N(m2, S2) is known in closed form,
T*(x) = m2 + A (x - m1), A = S1^{-1/2} (S1^{1/2} S2 S1^{1/2})^{1/2} S1^{-1/2}, so the fitted
map's error E ||T(x) - T*(x)||^2 is measured exactly on held-out samples. Fits minimise
S_eps(T#mu, nu) + lambda * MongeGap(T) (Uscidda & Cuturi, ICML 2023) for each lambda given.

    python experiments/monge_gap_2d.py --steps 300 --lams 0 1 --out results/ot
    python experiments/monge_gap_2d.py --quick --out /tmp/ot     # a smoke run in seconds

Writes <out>/monge_gap_2d.png (source, target, mapped samples, displacements per lambda) and
<out>/monge_gap_2d.json (map error, Monge gap and Sinkhorn divergence of each fit).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch
from scipy.linalg import sqrtm

from qdsformer.ot import fit_monge_map, monge_gap, sinkhorn_divergence

M1, S1 = np.array([0.0, 0.0]), np.array([[1.0, 0.6], [0.6, 0.8]])
M2, S2 = np.array([3.0, 1.0]), np.array([[0.4, -0.2], [-0.2, 1.5]])


def gaussian_ot_map() -> tuple[np.ndarray, np.ndarray]:
    """(A, shift) of the closed-form OT map x -> A x + shift from N(M1, S1) to N(M2, S2)."""
    root = np.real(sqrtm(S1))
    inv_root = np.linalg.inv(root)
    a = inv_root @ np.real(sqrtm(root @ S2 @ root)) @ inv_root
    return a, M2 - a @ M1


def sample(mean, cov, n, gen) -> torch.Tensor:
    chol = torch.tensor(np.linalg.cholesky(cov), dtype=torch.float32)
    z = torch.randn(n, 2, generator=gen)
    return z @ chol.T + torch.tensor(mean, dtype=torch.float32)  # (n, 2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lams", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/ot")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds: 5 steps on 256 train / 256 test samples, "
                             "batch 64, epsilon 1 (overrides those options)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.n_train, args.n_test, args.batch_size = 5, 256, 256, 64
        args.epsilon = 1.0  # converges in few Sinkhorn iterations
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)

    gen = torch.Generator().manual_seed(args.seed)
    source = sample(M1, S1, args.n_train, gen)
    target = sample(M2, S2, args.n_train, gen)
    test = sample(M1, S1, args.n_test, gen)
    a_mat, shift = gaussian_ot_map()
    true_test = test @ torch.tensor(a_mat.T, dtype=torch.float32) + torch.tensor(
        shift, dtype=torch.float32)  # (n_test, 2)

    results = {"identity_map_error": float(((test - true_test) ** 2).sum(-1).mean()),
               "settings": vars(args), "fits": []}
    fits = []
    for lam in args.lams:
        fit = fit_monge_map(source, target, lam=lam, epsilon=args.epsilon, steps=args.steps,
                            lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        with torch.no_grad():
            mapped = fit.map(test)  # (n_test, 2)
        sub = slice(0, 500)
        row = {
            "lambda": lam,
            "map_error": float(((mapped - true_test) ** 2).sum(-1).mean()),
            "monge_gap": float(monge_gap(test[sub].double(), mapped[sub].double(),
                                         epsilon=args.epsilon)),
            "sinkhorn_divergence_to_target": float(sinkhorn_divergence(
                mapped[sub].double(), target[sub].double(), epsilon=args.epsilon)),
            "final_loss": float(np.mean(fit.loss[-20:])),
        }
        results["fits"].append(row)
        fits.append((lam, mapped))
        print(f"lambda={lam:g}: map error {row['map_error']:.4f}, Monge gap "
              f"{row['monge_gap']:.4f}, divergence {row['sinkhorn_divergence_to_target']:.4f}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "monge_gap_2d.json").write_text(json.dumps(results, indent=2))
    _plot(out / "monge_gap_2d.png", test, target, true_test, fits, results["fits"])
    print(f"identity map error {results['identity_map_error']:.4f}; wrote {out}/monge_gap_2d.*")
    return 0


def _plot(path, test, target, true_test, fits, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(fits), figsize=(5 * len(fits), 4.5), squeeze=False)
    shown = min(400, len(test), len(target))  # --n-test / --n-train may be below 400
    for ax, (lam, mapped), row in zip(axes[0], fits, rows):
        ax.scatter(*test[:400].T, s=4, c="tab:blue", label="source")
        ax.scatter(*target[:400].T, s=4, c="tab:orange", alpha=0.5, label="target")
        ax.scatter(*mapped[:400].T, s=4, c="tab:green", label="T(source)")
        for i in range(0, shown, 20):
            ax.plot([test[i, 0], mapped[i, 0]], [test[i, 1], mapped[i, 1]], c="0.5", lw=0.5)
            ax.plot([mapped[i, 0], true_test[i, 0]], [mapped[i, 1], true_test[i, 1]], c="red",
                    lw=0.8)
        ax.set_title(f"lambda = {lam:g}: error {row['map_error']:.3f}, "
                     f"gap {row['monge_gap']:.3f}")
        ax.set_aspect("equal")
        ax.legend(loc="upper left", fontsize=7)
    fig.suptitle("Monge map fits (grey: displacement; red: distance to the true OT map)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
