"""Plain-text tables: evaluation results as printed at the end of ``test``, and the layer table."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from mnist_lit.constants import CLASS_NAMES
from mnist_lit.viz.introspect import LayerRow


def digit_accuracy(confmat: Tensor) -> tuple[Tensor, float]:
    """Return each digit's accuracy (NaN for a digit with no images) and the overall accuracy.

    Args:
        confmat: ``(10, 10)`` counts; ``confmat[t, p]`` images of digit ``t`` predicted as ``p``.

    """
    counts = confmat.sum(dim=1).double()
    per_digit = confmat.diagonal().double() / counts.where(counts > 0, torch.nan)
    total = float(counts.sum())
    return per_digit, float(confmat.diagonal().sum()) / total if total else 0.0


def format_digit_table(per_digit_acc: Tensor, counts: Tensor) -> str:
    """Return a table with one row per digit: accuracy (%) and number of images.

    Args:
        per_digit_acc: ``(10,)`` accuracy of each digit, in [0, 1].
        counts: ``(10,)`` number of images of each digit.

    """
    total = int(counts.sum())
    correct = float((per_digit_acc * counts).sum())
    lines = ["digit  accuracy   images", "-----  --------  -------"]
    for name, acc, count in zip(CLASS_NAMES, per_digit_acc.tolist(), counts.tolist(), strict=True):
        lines.append(f"{name:>5}  {100 * acc:7.2f}%  {int(count):7,d}")
    lines.append(f"{'all':>5}  {100 * correct / max(total, 1):7.2f}%  {total:7,d}")
    return "\n".join(lines)


def format_confusion_matrix(confmat: Tensor) -> str:
    """Return the confusion matrix as text: rows are true digits, columns predicted ones.

    Args:
        confmat: ``(10, 10)`` counts; ``confmat[t, p]`` images of digit ``t`` predicted as ``p``.

    """
    width = max(5, len(f"{int(confmat.max()):,d}") + 1)
    header = "true\\pred" + "".join(f"{name:>{width}}" for name in CLASS_NAMES)
    rows = [
        f"{name:>9}" + "".join(f"{int(v):>{width},d}" for v in row.tolist())
        for name, row in zip(CLASS_NAMES, confmat, strict=True)
    ]
    return "\n".join(
        ["Confusion matrix (rows: true digit, columns: predicted digit)", header, *rows]
    )


def format_layer_table(rows: Sequence[LayerRow]) -> str:
    """Return the network's layers as a Markdown table: output shape per image and parameters.

    Args:
        rows: From ``introspect.layer_table``.

    """
    lines = ["| layer | type | output (C x H x W) | parameters |", "|---|---|---|---:|"]
    for row in rows:
        lines.append(f"| {row.name} | {row.layer} | {row.shape} | {row.params:,d} |")
    lines.append(f"| | **total** | | **{sum(row.params for row in rows):,d}** |")
    return "\n".join(lines)
