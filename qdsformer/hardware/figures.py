"""Figures for circuit runs: heatmaps (exact vs estimate vs mitigated) and the shots sweep.

matplotlib is imported inside the functions; the backend is the caller's (no
``matplotlib.use``): a script without a display sets ``MPLBACKEND=Agg`` or relies on
matplotlib's own fallback to Agg.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qdsformer.common.results import save_figure


def plot_run(record: dict[str, Any], path: str | Path) -> Path:
    """Three heatmaps on one colour scale: exact P, raw estimate, Birkhoff-mitigated estimate.

    Args:
        record: a :func:`qdsformer.hardware.summarize` record.
        path: the PNG to write (parent folders are created).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    panels = [("exact P", record["exact"], None),
              ("estimate", record["estimate"],
               (record["frobenius_raw"], record["spearman_raw"])),
              ("Birkhoff-mitigated", record["mitigated"],
               (record["frobenius_mitigated"], record["spearman_mitigated"]))]
    vmax = max(float(np.max(m)) for _, m, _ in panels)
    fig, axes = plt.subplots(1, 3, figsize=(11, 4.2), constrained_layout=True)
    for ax, (title, matrix, scores) in zip(axes, panels):
        image = ax.imshow(np.asarray(matrix), vmin=0.0, vmax=vmax, cmap="viridis")
        if scores is not None:
            title += f"\nFrobenius {scores[0]:.3f}, Spearman {scores[1]:.3f}"
        ax.set_title(title, fontsize=9)
        ticks = range(len(matrix))
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xlabel("column j (D')")
        ax.set_ylabel("row i (D)")
    fig.colorbar(image, ax=axes, shrink=0.8)
    shots = record.get("shots")
    options = [name for key, name in (("readout_mitigation", "readout-corrected"),
                                      ("dynamical_decoupling", "DD"), ("twirling", "twirled"))
               if record.get(key)]
    fig.suptitle(f"{record['spec']} on {record['backend']}"
                 + (f", {shots} shots" if shots else "")
                 + (f" ({', '.join(options)})" if options else ""), fontsize=10)
    return save_figure(fig, path, close=True)


def plot_sweep(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Frobenius distance to the exact P vs shots (log-log): raw, mitigated, ideal shot noise.

    Args:
        rows: :func:`qdsformer.hardware.shots_sweep` records (any backends mixed).
        path: the PNG to write.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for k, backend in enumerate(dict.fromkeys(r["backend"] for r in rows)):
        mine = sorted((r for r in rows if r["backend"] == backend), key=lambda r: r["shots"])
        shots = [r["shots"] for r in mine]
        ax.plot(shots, [r["frobenius_raw"] for r in mine], "o-", color=f"C{k}",
                label=f"{backend} raw")
        ax.plot(shots, [r["frobenius_mitigated"] for r in mine], "s--", color=f"C{k}",
                alpha=0.7, label=f"{backend} mitigated")
    ideal = sorted({r["shots"]: r["shot_noise_frobenius"] for r in rows
                    if r.get("shot_noise_frobenius") is not None}.items())
    if ideal:
        ax.plot([s for s, _ in ideal], [v for _, v in ideal], "k:",
                label="expected ideal shot noise")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("shots")
    ax.set_ylabel("||estimate - P||_F")
    ax.set_title(f"{rows[0]['spec']}: estimate error vs shots", fontsize=10)
    ax.legend(fontsize=7)
    return save_figure(fig, path, close=True)
