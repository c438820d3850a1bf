"""The report page, ``report.md``: metrics, tables and every figure, readable without TensorBoard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from torch import Tensor

from mnist_lit.constants import CLASS_NAMES
from mnist_lit.viz.introspect import LayerRow
from mnist_lit.viz.tables import format_layer_table


def report_page(
    metrics: dict[str, Any],
    hparams: dict[str, Any],
    rows: Sequence[LayerRow],
    confusion: Tensor,
    figures: Sequence[str],
    image_index: int,
) -> str:
    """Write the report page: metrics, tables and every figure, in Markdown with relative image links."""
    per_digit = metrics["accuracy_per_digit"]
    counts = confusion.sum(dim=1).tolist()
    digit_rows = []
    for d, name in enumerate(CLASS_NAMES):
        off = confusion[d].clone()
        off[d] = -1
        worst = int(off.argmax())
        mistaken = f"{CLASS_NAMES[worst]} ({int(off[worst])})" if off[worst] > 0 else "-"
        acc = per_digit[name]
        shown = "n/a" if acc is None else f"{100 * acc:.2f}%"
        digit_rows.append(f"| {name} | {shown} | {int(counts[d]):,d} | {mistaken} |")
    hp_rows = [f"| `{k}` | `{v}` |" for k, v in hparams.items()]

    def figure(name: str, caption: str) -> list[str]:
        return [f"![{caption}]({name}.png)", ""] if name in figures else []

    lines = [
        f"# MNIST report: {Path(metrics['checkpoint']).name}",
        "",
        f"Checkpoint `{metrics['checkpoint']}` (epoch {metrics['epoch']}, step "
        f"{metrics['global_step']}), evaluated on the {metrics['test_set']} "
        f"({metrics['images']:,} images) on {metrics['device']} in {metrics['seconds']:.1f} s, "
        f"{datetime.now():%Y-%m-%d %H:%M}.",
        "",
        "## Results",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| accuracy | **{100 * metrics['accuracy']:.2f}%** |",
        f"| errors | {metrics['errors']:,d} of {metrics['images']:,d} |",
        f"| mean cross-entropy loss | {metrics['loss']:.4f} |",
        "",
        *_unusable(metrics["unusable_files"]),
        *_trust(metrics["calibration"], metrics["images"]),
        *figure("reliability", "Reliability diagram before and after temperature scaling"),
        "## Accuracy per digit",
        "",
        "| digit | accuracy | images | most often mistaken for (images) |",
        "|---|---:|---:|---|",
        *digit_rows,
        "",
        *figure("digit_accuracy", "Accuracy per digit"),
        "## Confusion matrix",
        "",
        "Rows are the true digits, columns the predicted ones.",
        "",
        *figure("confusion_matrix", "Confusion matrix, counts"),
        *figure("confusion_matrix_normalized", "Confusion matrix, % of each true digit"),
        "## Predictions",
        "",
        "The first 32 test images: the predicted digit and its probability, green when right, red "
        "when wrong (with the true digit).",
        "",
        *figure("predictions", "Predictions on the first test images"),
        "## Misclassified images, most confident first",
        "",
        *figure("misclassified", "Misclassified test images"),
    ]
    if "training_curves" in figures:
        lines += [
            "## Training curves",
            "",
            *figure("training_curves", "Loss and accuracy during training"),
        ]
    lines += [
        "## The data",
        "",
        *figure("samples", "Test images of each digit"),
        "## The network",
        "",
        _size_sentence(rows),
        "",
        format_layer_table(rows),
        "",
        "The same table as an image: [layers.png](layers.png).",
        "",
        "## What the network learned",
        "",
        "The first conv layer's filters (small edge and stroke detectors):",
        "",
        *figure("filters", "Filters of conv1"),
        f"What each conv layer responds to in test image {image_index}: edges in conv1, parts of "
        "strokes in conv2, whole-digit patterns in conv3.",
        "",
        *figure("feature_maps", "Feature maps of each conv layer"),
        "## Why it read each digit so",
        "",
        "Attribution maps (`docs/explanations.md` says how they are made and checked): red "
        "pixels speak for the digit named on the left, blue ones against it; each map is scaled "
        "to its own largest value. Integrated Gradients and Occlusion work on the input's pixels, "
        "Grad-CAM on the last conv layer's 7x7 grid (so it is coarse).",
        "",
        *figure("attributions", "Attribution maps of the first right image of each digit"),
        *(
            [
                "The most confident mistakes, each twice: why the model read the digit it read, "
                "and why not the true digit (what speaks for it, in red, and against it, in blue).",
                "",
                *figure("attributions_mistakes", "Attribution maps of the most confident mistakes"),
            ]
            if "attributions_mistakes" in figures
            else []
        ),
        "## Hyperparameters of the model",
        "",
        "| name | value |",
        "|---|---|",
        *hp_rows,
        "",
    ]
    return "\n".join(lines)


def _size_sentence(rows: Sequence[LayerRow]) -> str:
    """Say how the pools shrink the image, as the reference derives it: 28 -> 14 -> 7 -> 3."""
    sizes = [rows[0].output_shape[-1]] + [
        row.output_shape[-1] for row in rows if row.layer.startswith("MaxPool")
    ]
    flat = next((row for row in rows if row.layer == "Flatten"), None)
    sentence = (
        f"Each layer's output for one image: every 2x2 max-pool halves the size, rounded down "
        f"({' → '.join(map(str, sizes))})"
    )
    if flat is not None:
        before = rows[rows.index(flat) - 1].output_shape
        product = " x ".join(map(str, before))
        sentence += f", so the first linear layer sees {product} = {flat.output_shape[0]:,d} values"
    return sentence + "."


def _trust(figures: dict[str, Any], images: int) -> list[str]:
    """Write the section on calibrated confidence and the readings left unsure."""
    lines = ["## Confidence and unsure readings", ""]
    before = f"{100 * figures['ece_unscaled']:.2f}%"
    if figures["ece"] is None:
        return [
            *lines,
            f"Expected calibration error (15 bins): {before}. This checkpoint has no calibration "
            "(written before it existed): its probabilities are not temperature-scaled and no "
            "reading is marked unsure.",
            "",
        ]
    unsure = figures["unsure"]
    sure = figures["accuracy_sure"]
    rest = f"{100 * sure:.2f}%" if sure is not None else "n/a"
    return [
        *lines,
        "Temperature scaling divides the logits by one number fitted on the validation split, so "
        "that a reading's confidence matches how often such readings are right; a reading below "
        "the unsure threshold (chosen so that under 1% of the validation digits fall below it) "
        "is marked unsure: `unsure` in `predict`'s CSV, a plain message in the demo.",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| temperature | {figures['temperature']:.3f} |",
        f"| expected calibration error (15 bins), before scaling | {before} |",
        f"| expected calibration error (15 bins), calibrated | {100 * figures['ece']:.2f}% |",
        f"| unsure threshold (calibrated confidence) | {100 * figures['unsure_threshold']:.1f}% |",
        f"| readings marked unsure | {unsure:,d} of {images:,d} ({100 * unsure / max(images, 1):.2f}%) |",
        f"| accuracy on the rest | {rest} |",
        "",
    ]


def _unusable(files: Sequence[dict[str, str]]) -> list[str]:
    """Write a section naming the files that could not be used (none if all were)."""
    if not files:
        return []
    return [
        f"**{len(files):,} file{'' if len(files) == 1 else 's'} could not be used** and "
        f"{'is' if len(files) == 1 else 'are'} not counted above:",
        "",
        *(f"- `{f['file']}`: {f['reason']}" for f in files),
        "",
    ]
