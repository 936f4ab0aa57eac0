"""Figures of the DSM expressivity study (matplotlib, imported lazily).

Each function takes a :class:`qdsformer.analysis.study.StudyResult`, draws one figure, saves
it when ``path`` is given and returns the matplotlib ``Figure``.
"""

from __future__ import annotations

from pathlib import Path

from qdsformer.analysis.study import StudyResult
from qdsformer.common.results import save_figure


def pyplot():
    """matplotlib.pyplot, imported on first use (headless machines fall back to Agg)."""
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path | None):
    if path is not None:
        save_figure(fig, path, bbox_inches="tight")
    return fig


def entropy_vs_information(result: StudyResult, path: str | Path | None = None,
                           labels: list[str] | None = None):
    """Scatter of per-matrix entropy (x) against information kept ||P - M||_F (y).

    QDSFormer (Born et al., 2025, section 3) reads points low on y as operators that keep more
    of the input; x shows how spread out the attention is (0 = permutation, 1 = uniform).
    """
    plt = pyplot()
    labels = labels or deepest_settings(result)
    colors = plt.get_cmap("tab20").colors
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for k, label in enumerate(labels):
        values = result.per_matrix[label]
        ax.scatter(values["entropy"].numpy(), values["information_kept"].numpy(), s=8,
                   alpha=0.5, label=label, color=colors[k % len(colors)])
    ax.set_xlabel("entropy of P (mean normalised row entropy)")
    ax.set_ylabel("information kept  ||P - M||_F  (lower keeps more)")
    ax.set_title(f"Entropy vs information kept ({result.n_matrices} inputs)")
    ax.legend(fontsize=7, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save(fig, path)


def deepest_settings(result: StudyResult, layer_key: str = "n_layers") -> list[str]:
    """Labels of all settings, keeping of each operator swept over ``layer_key`` only its
    deepest circuits (one per combination of its other arguments), to keep plots legible."""
    deepest: dict[tuple, tuple[int, str]] = {}
    labels = []
    for setting in result.settings:
        kwargs = dict(setting.kwargs)
        if layer_key not in kwargs:
            labels.append(setting.label)
            continue
        group = (setting.operator,) + tuple(kv for kv in setting.kwargs if kv[0] != layer_key)
        if group not in deepest or kwargs[layer_key] > deepest[group][0]:
            deepest[group] = (kwargs[layer_key], setting.label)
    return [label for _, label in deepest.values()] + labels


def birkhoff_distance_per_operator(result: StudyResult, path: str | Path | None = None,
                                   floor: float = 1e-16):
    """Box plot of the per-matrix distance to the Birkhoff polytope, log scale.

    Distances below ``floor`` (exact zeros) are drawn at ``floor``.
    """
    plt = pyplot()
    labels = list(result.per_matrix)
    data = [result.per_matrix[k]["birkhoff_distance"].clamp_min(floor).numpy() for k in labels]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(labels) + 2), 4.5))
    ax.boxplot(data, showfliers=True, flierprops={"markersize": 2})
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("Frobenius distance to the Birkhoff polytope")
    ax.set_title("Soundness: distance of P to the doubly stochastic matrices")
    fig.tight_layout()
    return _save(fig, path)


def uniqueness_vs_layers(result: StudyResult, path: str | Path | None = None,
                         operator: str = "qontot", layer_key: str = "n_layers",
                         group_key: str = "n_aux_qubits"):
    """Unique outputs of ``operator`` against circuit layers, one line per ``group_key``;
    non-parametric operators as horizontal reference lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    lines: dict[object, list[tuple[int, float]]] = {}
    for setting in result.settings:
        kwargs = dict(setting.kwargs)
        unique = result.value(setting.label, "unique")
        if setting.operator == operator and layer_key in kwargs:
            lines.setdefault(kwargs.get(group_key), []).append((kwargs[layer_key], unique))
        elif setting.operator != operator:
            ax.axhline(unique, linestyle="--", linewidth=1, color=f"C{len(ax.lines) % 10}",
                       label=f"{setting.label}: {int(unique)}")
    for group, points in sorted(lines.items(), key=lambda kv: str(kv[0])):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                label=f"{operator} {group_key}={group}")
    if lines:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(f"circuit layers ({layer_key})")
    ax.set_ylabel(f"unique outputs (of {result.n_matrices})")
    ax.set_title("Diversity: unique outputs vs circuit depth")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _save(fig, path)
