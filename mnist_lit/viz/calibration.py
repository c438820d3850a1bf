"""How far confidence is from accuracy: the reliability diagram and the calibration error.

    figure = plot_reliability({"before": (p_raw, labels), "after": (p_scaled, labels)})

Pure functions, as those of ``plots.py``: results in, numbers or a matplotlib ``Figure`` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.functional.classification import multiclass_calibration_error

from mnist_lit.constants import NUM_CLASSES

BINS = 15
"""Confidence bins of the expected calibration error (the usual 15, as Guo et al.)."""


def calibration_error(probabilities: Tensor, labels: Tensor, bins: int = BINS) -> float:
    """Return the expected calibration error: the gap of confidence and accuracy over bins."""
    if len(labels) == 0:
        return float("nan")
    return float(
        multiclass_calibration_error(
            probabilities.float(), labels, NUM_CLASSES, n_bins=bins, validate_args=False
        )
    )


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: the mean confidence, the accuracy and the number of readings."""

    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray


def reliability(probabilities: Tensor, labels: Tensor, bins: int = BINS) -> Reliability:
    """Bin the readings by confidence (equal widths over [0, 1]); empty bins give NaN."""
    confidence, predicted = probabilities.float().max(dim=1)
    right = (predicted == labels).float()
    index = (confidence * bins).long().clamp(max=bins - 1)
    counts = torch.bincount(index, minlength=bins).double()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = (torch.bincount(index, confidence.double(), bins) / counts).numpy()
        accuracy = (torch.bincount(index, right.double(), bins) / counts).numpy()
    return Reliability(mean_conf, accuracy, counts.numpy().astype(int))


def plot_reliability(
    readings: Mapping[str, tuple[Tensor, Tensor]], title: str = "", bins: int = BINS
) -> Figure:
    """Accuracy against confidence per bin, one line per set of readings, and the diagonal.

    A calibrated model lies on the diagonal; below it, over-confident. The legend gives each set's
    expected calibration error. Below, the share of readings in each bin (log scale).

    Args:
        readings: For each name (e.g. "before scaling"), its probabilities ``(N, 10)`` and labels.
        title: Above the figure.
        bins: Confidence bins.

    """
    fig = Figure(figsize=(6, 6.5), layout="constrained")
    ax, ax_counts = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    edges = np.linspace(0, 1, bins + 1)
    for name, (probabilities, labels) in readings.items():
        table = reliability(probabilities, labels, bins)
        error = calibration_error(probabilities, labels, bins)
        shown = table.counts > 0
        ax.plot(
            table.confidence[shown], table.accuracy[shown], marker="o",
            label=f"{name} (ECE {100 * error:.2f}%)",
        )  # fmt: skip
        share = table.counts / max(table.counts.sum(), 1)
        ax_counts.stairs(share, edges, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "Reliability: accuracy against confidence")
    ax_counts.set_yscale("log")
    ax_counts.set_xlabel(f"confidence ({bins} bins)")
    ax_counts.set_ylabel("share of images")
    ax_counts.grid(alpha=0.3)
    return fig
