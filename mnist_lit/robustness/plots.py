"""The robustness suite's figure: accuracy on each set, models side by side.

Pure functions, as those of ``mnist_lit.viz.plots``: results in, matplotlib ``Figure`` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure


def plot_robustness(
    sets: Sequence[str], accuracy: Mapping[str, Sequence[float]], title: str = ""
) -> Figure:
    """Horizontal bars of accuracy (%) per set, one bar per model in each set's group.

    The axis starts at the lowest accuracy drawn (rounded down to 10%), so that differences of a
    point or two between models stay visible; each bar is labelled with its value.

    Args:
        sets: The sets' names, top to bottom (``clean`` and family means included).
        accuracy: For each model, its accuracy (0-1) on each of ``sets``, in that order.
        title: Above the bars.

    """
    models = list(accuracy)
    values = np.array([accuracy[m] for m in models], dtype=float) * 100  # (models, sets)
    height = 0.8 / max(len(models), 1)
    fig = Figure(figsize=(9, 1.2 + 0.22 * len(sets) * max(len(models), 1)), layout="constrained")
    ax = fig.subplots()
    positions = np.arange(len(sets))
    colours = colormaps["tab10"](np.arange(len(models)) % 10)
    for index, model in enumerate(models):
        offsets = positions - 0.4 + height * (index + 0.5)
        bars = ax.barh(offsets, values[index], height=height, color=colours[index], label=model)
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in values[index]], fontsize=7, padding=2)
    ax.set_yticks(positions, labels=list(sets))
    ax.invert_yaxis()
    low = np.nanmin(values) if values.size else 0.0
    ax.set_xlim(max(0.0, np.floor(low / 10) * 10), 103)
    ax.set_xlabel("accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title or "Accuracy on clean, corrupted and users' kinds of digits")
    return fig
