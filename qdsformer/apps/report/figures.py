"""Report figures: validation-accuracy curves (mean and band over seeds) and a depth curve.

Figures are built on ``matplotlib.figure.Figure`` directly and saved with ``savefig``: no
pyplot state and no backend switch, so calling these from a notebook changes nothing else.
"""

from __future__ import annotations

from pathlib import Path

from qdsformer.apps.report.aggregate import Group
from qdsformer.apps.report.paper import pooled_stat
from qdsformer.common.results import save_figure


def _figure(width: float = 6.0, height: float = 4.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def curves_figure(groups: list[Group], path: str | Path, *, title: str = "") -> Path:
    """Validation accuracy (%) per epoch: one line (mean) and band (± std) per group."""
    fig, ax = _figure()
    for g in groups:
        if not g.n:
            continue
        epochs, mean, std = g.curve("val_acc")
        mean = [100 * m for m in mean]
        std = [100 * s for s in std]
        line, = ax.plot(epochs, mean, label=f"{g.name.rsplit('/', 1)[-1]} (n={g.n})")
        ax.fill_between(epochs, [m - s for m, s in zip(mean, std)],
                        [m + s for m, s in zip(mean, std)], alpha=0.2, color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def depth_figure(groups: list[Group], depth_key: str, metric: str, path: str | Path, *,
                 paper: dict[float, float] | None = None, title: str = "") -> Path:
    """``metric`` (%) against the numeric config value ``depth_key`` (e.g. circuit layers),
    mean ± std over seeds, with the paper's curve when given (``{depth: percent}``)."""
    by_depth: dict[float, list[Group]] = {}
    for g in groups:
        value = g.config_value(depth_key) if g.n else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            by_depth.setdefault(value, []).append(g)
    fig, ax = _figure()
    depths = sorted(by_depth)
    stats = [pooled_stat(by_depth[d], metric) for d in depths]
    ax.errorbar(depths, [s[0] for s in stats], yerr=[s[1] or 0.0 for s in stats], marker="o",
                capsize=3, label=f"ours (n={min(s[2] for s in stats) if stats else 0} per point)")
    if paper:
        xs = sorted(paper)
        ax.plot(xs, [paper[x] for x in xs], marker="s", linestyle="--", label="paper")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(depth_key.rsplit(".", 1)[-1])
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
