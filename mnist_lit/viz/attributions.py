"""Attribution maps drawn over their digits: the report's figure and the demo's picture.

    python -m mnist_lit.report --ckpt_path best   # attributions.png, attributions_mistakes.png

Red marks pixels that speak for the digit explained, blue ones against it; each map is scaled to
its own largest value, so colours compare pixels within a map, not maps with each other. The
digit's outline is drawn over the map, so a map reads as "this part of the stroke".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from mnist_lit.constants import MEAN, STD

CMAP = "RdBu_r"
"""Diverging colours: red for the digit explained, blue against it, white for nothing."""

LEGEND = "red: for the digit explained, blue: against it (each map scaled to its own largest value)"
"""How to read the colours, under a figure the function makes."""


def plot_attributions(
    images: Tensor,
    maps: Mapping[str, Tensor],
    predicted: Tensor,
    confidence: Tensor,
    targets: Tensor | None = None,
    labels: Tensor | None = None,
    mean: float = MEAN,
    std: float = STD,
    title: str | None = None,
    axes: Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """Show each image beside its attribution maps, one row per image, one column per method.

    Args:
        images: ``(N, 1, 28, 28)`` or ``(N, 28, 28)`` normalised images.
        maps: Method name (the column title) -> ``(N, 28, 28)`` maps, positive for the target.
        predicted: ``(N,)`` digit the model read.
        confidence: ``(N,)`` probability of the digit read.
        targets: ``(N,)`` digit each row's maps explain; default the digit read.
        labels: ``(N,)`` true digits, shown where the reading is wrong; default not shown.
        mean: Normalisation mean the images were made with.
        std: Normalisation standard deviation the images were made with.
        title: Figure title.
        axes: ``N`` rows of ``1 + len(maps)`` Axes to draw into (of one figure); default a new
            figure.

    >>> import torch
    >>> fig = plot_attributions(torch.zeros(1, 1, 28, 28), {"IG": torch.zeros(1, 28, 28)},
    ...                         torch.tensor([3]), torch.tensor([0.9]))
    >>> len(fig.axes)
    2

    """
    pixels = np.clip(images.detach().float().cpu().numpy().reshape(-1, 28, 28) * std + mean, 0, 1)
    count, columns = len(pixels), 1 + len(maps)
    targets = predicted if targets is None else targets
    if axes is None:
        fig = Figure(figsize=(1.25 * columns + 0.3, 1.3 * max(count, 1) + 0.5))
        fig.set_layout_engine("constrained")
        grid = fig.subplots(max(count, 1), columns, squeeze=False)
        fig.supxlabel(LEGEND, fontsize=7)
    else:
        grid = np.asarray(axes, dtype=object).reshape(count, columns)
        fig = grid[0, 0].get_figure()
    if title:
        fig.suptitle(title, fontsize=10)
    values = {
        name: m.detach().float().cpu().numpy().reshape(-1, 28, 28) for name, m in maps.items()
    }
    for row in range(count):
        read, target = int(predicted[row]), int(targets[row])
        ax = grid[row, 0]
        ax.imshow(pixels[row], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        sure = float(confidence[row])  # >99.9%, 99.4%, 97%: never rounded up to 100%
        shown = (
            ">99.9"
            if sure >= 0.999
            else f"{100 * sure:.1f}"
            if sure >= 0.99
            else f"{100 * sure:.0f}"
        )
        text = f"read {read} ({shown}%)"
        if labels is not None and int(labels[row]) != read:
            text += f", true {int(labels[row])}"
        ax.set_title(text, fontsize=8, color="red" if "true" in text else "black")
        ax.set_ylabel(f"why {target}" if target == read else f"why not {target}?", fontsize=8)
        for column, (name, method_maps) in enumerate(values.items(), start=1):
            ax = grid[row, column]
            heat = method_maps[row]
            limit = float(np.abs(heat).max()) or 1.0
            ax.imshow(heat, cmap=CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
            if pixels[row].min() < 0.5 < pixels[row].max():  # the digit's outline
                ax.contour(pixels[row], levels=[0.5], colors="0.3", linewidths=0.5)
            if row == 0:
                ax.set_title(name, fontsize=8)
    for ax in grid.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def attribution_image(pixels: np.ndarray, heat: np.ndarray, scale: int = 8) -> np.ndarray:
    """Return the map as a picture: the digit in grey under red (for) and blue (against) colours.

    Fast enough for every stroke of the demo (no matplotlib figure): a lookup in the colour map.

    Args:
        pixels: ``(28, 28)`` uint8, the image the model saw (light digit on black).
        heat: ``(28, 28)`` float map, positive for the digit explained.
        scale: Each pixel shown as a ``scale`` x ``scale`` square.

    Returns:
        ``(28 * scale, 28 * scale, 3)`` uint8 RGB.

    """
    limit = float(np.abs(heat).max()) or 1.0
    colours = colormaps[CMAP](np.clip(0.5 + 0.5 * heat / limit, 0, 1))[..., :3]  # (28, 28, 3)
    strength = np.clip(np.abs(heat) / limit, 0, 1)[..., None]
    grey = (0.35 * pixels.astype(float) / 255)[..., None]  # the digit, faint, where no colour
    picture = strength * colours + (1 - strength) * grey
    picture = np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)
    return np.asarray(np.round(255 * picture), dtype=np.uint8)
