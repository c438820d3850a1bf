"""Figures of the data-scale experiment: accuracy, loss and time against training-set size.

    python -m mnist_lit.experiments.data_scale --config configs/experiments/data_scale.yaml

Pure functions, as those of ``mnist_lit.viz.plots``: results in, matplotlib ``Figure`` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure


class ScalePoint(NamedTuple):
    """One point of a data-scale experiment: a training-set size after some epochs.

    Each value is the mean over the seeds run; ``*_std`` is its standard deviation (NaN with one
    seed, drawn without an error bar).
    """

    size: int
    """Training images."""
    epoch: int
    """Epochs trained (1 = after the first)."""
    test_acc: float
    """Test accuracy, 0-1."""
    test_acc_std: float
    test_loss: float
    """Mean cross-entropy on the test set."""
    train_loss: float
    """Mean training loss over the epoch."""
    train_loss_std: float
    seconds: float
    """Training time up to the end of this epoch, evaluations excluded."""
    seconds_std: float


def plot_data_scale(points: Sequence[ScalePoint]) -> Figure:
    """Four panels on training-set size: time, accuracy, loss per epoch, accuracy against time.

    (a) training time against size, one line per number of epochs, with the least-squares line
    through the last epoch's points; (b) test accuracy against size, one line per number of
    epochs; (c) mean training loss of each epoch, one line per size; (d) test accuracy against
    training time, one line per size through its epochs. Error bars: standard deviation over seeds.

    Args:
        points: The experiment's results, one per size and epoch (any order).

    """
    by_size, by_epoch = _group(points)
    sizes, epochs = list(by_size), list(by_epoch)
    fig = Figure(figsize=(11, 8), layout="constrained")
    fig.suptitle("Training-set size: time, accuracy and loss")
    (ax_time, ax_acc), (ax_loss, ax_tradeoff) = fig.subplots(2, 2)
    size_colours = _colours(len(sizes))
    epoch_colours = _colours(len(epochs), "plasma")
    for colour, epoch in zip(epoch_colours, epochs, strict=True):
        row = by_epoch[epoch]
        x = [p.size for p in row]
        label = f"{epoch} epoch" + ("" if epoch == 1 else "s")
        ax_time.errorbar(
            x,
            [p.seconds for p in row],
            yerr=_bars(row, "seconds_std"),
            marker="o",
            color=colour,
            capsize=3,
            label=label,
        )
        ax_acc.errorbar(
            x,
            [100 * p.test_acc for p in row],
            marker="o",
            color=colour,
            capsize=3,
            yerr=_bars(row, "test_acc_std", 100),
            label=label,
        )
    last = by_epoch[epochs[-1]]
    if len(last) >= 2:
        slope, intercept = np.polyfit([p.size for p in last], [p.seconds for p in last], 1)
        x_fit = np.array([0, max(sizes)])
        ax_time.plot(
            x_fit,
            intercept + slope * x_fit,
            color="grey",
            linestyle="--",
            label=f"linear fit: {1e4 * slope:.1f} s per 10k images for {epochs[-1]} epochs",
        )
    for colour, size in zip(size_colours, sizes, strict=True):
        row = by_size[size]
        ax_loss.errorbar(
            [p.epoch for p in row],
            [p.train_loss for p in row],
            marker="o",
            yerr=_bars(row, "train_loss_std"),
            color=colour,
            capsize=3,
            label=f"{size:,}",
        )
        ax_tradeoff.plot(
            [p.seconds for p in row],
            [100 * p.test_acc for p in row],
            marker="o",
            color=colour,
            label=f"{size:,}",
        )
    ax_time.set(title="(a) Training time", xlabel="training images", ylabel="seconds")
    ax_acc.set(title="(b) Test accuracy", xlabel="training images", ylabel="accuracy (%)")
    ax_loss.set(
        title="(c) Training loss per epoch",
        xlabel="epoch",
        ylabel="mean cross-entropy",
        yscale="log",
    )
    ax_loss.set_xticks(epochs)
    ax_loss.yaxis.set_major_formatter(_plain)
    losses = [p.train_loss for p in points if p.train_loss > 0]
    if losses and max(losses) < 100 * min(losses):  # two decades at most: label minor ticks too
        ax_loss.yaxis.set_minor_formatter(_plain)
    ax_tradeoff.set(
        title="(d) Accuracy against training time",
        xlabel="training seconds",
        ylabel="test accuracy (%)",
    )
    for ax, legend_title in (
        (ax_time, None),
        (ax_acc, None),
        (ax_loss, "images"),
        (ax_tradeoff, "images"),
    ):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title=legend_title, title_fontsize=8)
    for ax in (ax_time, ax_acc):
        ax.xaxis.set_major_formatter(_thousands)
    return fig


def plot_learning_curves(points: Sequence[ScalePoint]) -> Figure:
    """Test accuracy and test loss after each epoch, one line per training-set size.

    Args:
        points: The experiment's results, one per size and epoch (any order).

    """
    by_size, by_epoch = _group(points)
    sizes, epochs = list(by_size), list(by_epoch)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    fig.suptitle("Learning curves: the test set after each epoch")
    ax_acc, ax_loss = fig.subplots(1, 2)
    for colour, size in zip(_colours(len(sizes)), sizes, strict=True):
        row = by_size[size]
        x = [p.epoch for p in row]
        ax_acc.errorbar(
            x,
            [100 * p.test_acc for p in row],
            marker="o",
            color=colour,
            capsize=3,
            yerr=_bars(row, "test_acc_std", 100),
            label=f"{size:,}",
        )
        ax_loss.plot(x, [p.test_loss for p in row], marker="o", color=colour, label=f"{size:,}")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Accuracy")
    ax_loss.set(xlabel="epoch", ylabel="mean cross-entropy", title="Loss")
    for ax in (ax_acc, ax_loss):
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="images", title_fontsize=8)
    return fig


def _group(
    points: Sequence[ScalePoint],
) -> tuple[dict[int, list[ScalePoint]], dict[int, list[ScalePoint]]]:
    """Points by size (in epoch order) and by epoch (in size order), keys ascending."""
    if not points:
        raise ValueError("no results to plot")
    ordered = sorted(points, key=lambda p: (p.size, p.epoch))
    by_size: dict[int, list[ScalePoint]] = {}
    by_epoch: dict[int, list[ScalePoint]] = {}
    for point in ordered:
        by_size.setdefault(point.size, []).append(point)
    for point in sorted(ordered, key=lambda p: (p.epoch, p.size)):
        by_epoch.setdefault(point.epoch, []).append(point)
    return by_size, by_epoch


def _bars(row: Sequence[ScalePoint], field: str, scale: float = 1.0) -> list[float] | None:
    """Error bars from ``field`` of each point times ``scale``; none where it is NaN (one seed)."""
    values = [getattr(p, field) for p in row]
    if all(np.isnan(v) for v in values):
        return None
    return [0.0 if np.isnan(v) else scale * v for v in values]


def _colours(count: int, name: str = "viridis") -> list[tuple[float, ...]]:
    """``count`` colours spread over a colour map, leaving out its palest end."""
    cmap = colormaps[name]
    return [tuple(cmap(v)) for v in np.linspace(0.0, 0.85, count)]


def _plain(value: float, _position: int) -> str:
    return f"{value:g}"


def _thousands(value: float, _position: int) -> str:
    return f"{value / 1000:g}k" if value else "0"
