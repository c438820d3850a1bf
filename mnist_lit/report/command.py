"""Evaluate a checkpoint on the MNIST test set and write every figure and a report page.

    python -m mnist_lit.report --ckpt_path best --data.mirror ../shared/data/mnist
    python -m mnist_lit.report --ckpt_path lightning_logs/version_0/checkpoints/last.ckpt --out my_report

Writes into ``--out`` (default: ``report/`` in the checkpoint's run folder) ``report.md`` (metrics,
tables and all figures, readable without TensorBoard), ``metrics.json`` and one PNG per figure:
samples, training curves (from the run's TensorBoard logs), predictions, misclassified images,
per-digit accuracy, confusion matrix (counts and normalised), feature maps, conv1 filters and the
layer table. ``--data.custom_dir DIR`` reports on a labelled folder of your own images instead.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from jsonargparse import ArgumentParser
from matplotlib.figure import Figure
from torch import Tensor

from mnist_lit.constants import CLASS_NAMES
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.data.folders import FolderBatch
from mnist_lit.errors import ConfigError, MnistLitError, one_line
from mnist_lit.files import save_figure, write_text
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.training.checkpoints import (
    add_checkpoint_arguments,
    load_checkpoint,
    model_from_checkpoint,
    public_hparams,
    resolve_checkpoint,
)
from mnist_lit.training.device import cpu_model
from mnist_lit.viz.introspect import LayerRow, feature_maps, layer_table
from mnist_lit.viz.plots import (
    Curve,
    plot_confusion_matrix,
    plot_digit_accuracy,
    plot_feature_maps,
    plot_filters,
    plot_layer_table,
    plot_misclassified,
    plot_predictions,
    plot_samples,
    plot_training_curves,
)
from mnist_lit.viz.tables import digit_accuracy, format_layer_table

log = logging.getLogger("mnist_lit")

CURVE_TAGS = (
    "train/loss",
    "train/loss_epoch",
    "val/loss",
    "train/acc",
    "train/acc_epoch",
    "val/acc",
)
"""Scalars of the training run drawn in ``training_curves.png``."""


@dataclass
class Evaluation:
    """A model's outputs on a whole test set.

    Args:
        images: ``(N, 1, 28, 28)`` normalised images, on the CPU.
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` predicted class probabilities.
        loss: Mean cross-entropy.
        seconds: Time the forward passes took.
        device: Where they ran, in words.
        failures: ``(file, reason)`` of each image of a folder that could not be used.

    """

    images: Tensor
    labels: Tensor
    probabilities: Tensor
    loss: float
    seconds: float
    device: str
    failures: list[tuple[str, str]]

    @property
    def predicted(self) -> Tensor:
        """``(N,)`` predicted digits."""
        return self.probabilities.argmax(dim=1)

    @property
    def accuracy(self) -> float:
        """Fraction of images predicted right."""
        return float((self.predicted == self.labels).float().mean()) if len(self.labels) else 0.0

    def confusion(self) -> Tensor:
        """``(10, 10)`` counts; rows are true digits, columns predicted ones."""
        index = self.labels * len(CLASS_NAMES) + self.predicted
        counts = torch.bincount(index, minlength=len(CLASS_NAMES) ** 2)
        return counts.reshape(len(CLASS_NAMES), len(CLASS_NAMES))


def evaluate(
    model: MNISTClassifier, datamodule: MNISTDataModule, device: torch.device
) -> Evaluation:
    """Run ``model`` over the datamodule's test set (set up already) and keep every output."""
    model.eval().to(device)
    model.fast_cpu_layout()
    images, labels, logits = [], [], []
    failures: list[tuple[str, str]] = []
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in datamodule.test_dataloader():
            batch = datamodule.on_after_batch_transfer(_to(batch, device), 0)
            if isinstance(batch, FolderBatch):
                failures += [(name, reason) for name, _, reason in batch.failures]
            if len(batch[1]) == 0:
                continue
            images.append(batch[0].cpu())
            labels.append(batch[1].cpu())
            logits.append(model(batch[0]).float().cpu())
    seconds = time.perf_counter() - start
    if not labels:
        named = "; ".join(f"{name}: {reason}" for name, reason in failures[:5])
        more = f" (and {len(failures) - 5:,} more)" if len(failures) > 5 else ""
        raise ConfigError(
            "the test set has no images that could be used"
            + (f": {named}{more}" if failures else "")
        )
    all_logits, all_labels = torch.cat(logits), torch.cat(labels)
    where = (
        f"CUDA {torch.cuda.get_device_name(device)}"
        if device.type == "cuda"
        else f"CPU {cpu_model()}, {torch.get_num_threads()} threads"
    )
    return Evaluation(
        torch.cat(images),
        all_labels,
        all_logits.softmax(dim=1),
        float(F.cross_entropy(all_logits, all_labels)),
        seconds,
        where,
        failures,
    )


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, FolderBatch):
        return batch._replace(images=batch.images.to(device), labels=batch.labels.to(device))
    return tuple(t.to(device) for t in batch)


def read_curves(run_dir: Path, tags: Sequence[str] = CURVE_TAGS) -> dict[str, Curve]:
    """Read logged scalars from the TensorBoard event files of a run folder (empty if none)."""
    if not any(run_dir.glob("events.out.tfevents.*")):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={SCALARS: 0})  # 0: keep all
    accumulator.Reload()
    found = set(accumulator.Tags().get("scalars", []))
    curves: dict[str, Curve] = {}
    for tag in tags:
        if tag in found:
            events = accumulator.Scalars(tag)
            curves[tag] = ([e.step for e in events], [e.value for e in events])
    return curves


def make_report(
    ckpt_path: str,
    out: str | Path | None,
    datamodule: MNISTDataModule,
    logs: str | Path = "lightning_logs",
    device: str = "auto",
    image_index: int = 0,
) -> Path:
    """Evaluate a checkpoint and write the figures, ``metrics.json`` and ``report.md``.

    Args:
        ckpt_path: ``best``, ``last`` (newest run under ``logs``) or a ``.ckpt`` file.
        out: Output folder; ``None`` is ``report/`` beside the checkpoint's ``checkpoints/``.
        datamodule: Where the test images come from; its ``mean``/``std`` are replaced by the
            checkpoint's.
        logs: Folder holding the run folders, to find ``best`` and ``last``.
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda``.
        image_index: Test image whose feature maps are shown.

    Returns:
        The path of ``report.md``.

    """
    path = resolve_checkpoint(ckpt_path, logs)
    checkpoint = load_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path)
    datamodule.mean, datamodule.std = model.hparams["mean"], model.hparams["std"]
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    out = Path(out) if out is not None else run_dir / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder {out}: {err.strerror}") from err

    log.info(f"Checkpoint: {path}")
    torch_device = _device(device)
    if datamodule.custom_dir is None:  # a folder of the user's needs no MNIST files
        datamodule.prepare_data()
    datamodule.setup("test")
    try:
        result = evaluate(model, datamodule, torch_device)
    finally:
        datamodule.teardown("test")  # gives the folder workers' threads back to torch
    confusion = result.confusion()
    per_digit, _ = digit_accuracy(confusion)
    test_set = datamodule.custom_dir or "MNIST test set"
    if result.failures:
        shown = "".join(f"\n  {name}: {reason}" for name, reason in result.failures[:20])
        log.warning(
            f"Files of {test_set} that could not be used, not counted (all "
            f"{len(result.failures):,} are listed in report.md):{shown}"
        )
    log.info(
        f"Accuracy {100 * result.accuracy:.2f}% on {len(result.labels):,} images of {test_set} "
        f"({result.seconds:.1f} s on {result.device})"
    )
    if not 0 <= image_index < len(result.labels):
        raise ConfigError(
            f"image_index must be in [0, {len(result.labels) - 1}], got {image_index}"
        )

    mean, std = datamodule.mean, datamodule.std
    images, labels, probabilities = result.images, result.labels, result.probabilities
    rows = layer_table(model.net)
    maps = feature_maps(model.net.features, images[image_index : image_index + 1].to(torch_device))
    curves = read_curves(run_dir)
    figures: dict[str, Figure] = {
        "samples": plot_samples(images, labels, mean, std),
        "predictions": plot_predictions(images[:32], labels[:32], probabilities[:32], mean, std),
        "misclassified": plot_misclassified(images, labels, probabilities, mean, std),
        "digit_accuracy": plot_digit_accuracy(
            per_digit, result.accuracy, "Test accuracy per digit"
        ),
        "confusion_matrix": plot_confusion_matrix(confusion),
        "confusion_matrix_normalized": plot_confusion_matrix(confusion, normalize=True),
        "feature_maps": plot_feature_maps(
            images[image_index], [m[0] for m in maps], mean=mean, std=std
        ),
        "filters": plot_filters(model.net.conv_layers()[0].weight),
        "layers": plot_layer_table(rows),
    }
    if curves:
        figures["training_curves"] = plot_training_curves(curves, f"Training curves of {run_dir}")
    for name, figure in figures.items():
        save_figure(figure, out / f"{name}.png", dpi=110)

    metrics = {
        "checkpoint": str(path),
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
        "test_set": test_set,
        "images": len(labels),
        "accuracy": result.accuracy,
        "errors": int(len(labels) - confusion.trace()),
        "loss": result.loss,
        "accuracy_per_digit": {
            d: _number(a) for d, a in zip(CLASS_NAMES, per_digit.tolist(), strict=True)
        },
        "confusion_matrix": confusion.tolist(),
        "device": result.device,
        "seconds": result.seconds,
        "unusable_files": [{"file": name, "reason": reason} for name, reason in result.failures],
    }
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    page = out / "report.md"
    write_text(
        page,
        _markdown(
            metrics,
            public_hparams(model.hparams),
            rows,
            confusion,
            sorted(figures),
            image_index,
        ),
    )
    log.info(f"Wrote {page} with {len(figures)} figures (PNG) and metrics.json in {out}")
    if not curves:
        log.info(f"No training curves: no TensorBoard logs with them in {run_dir}")
    return page


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda asked for, but no CUDA GPU is available")
    return torch.device(name)


def _number(value: float) -> float | None:
    return None if value != value else value  # NaN (a digit with no images) -> null


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


def _markdown(
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
        "## Hyperparameters of the model",
        "",
        "| name | value |",
        "|---|---|",
        *hp_rows,
        "",
    ]
    return "\n".join(lines)


def build_parser() -> ArgumentParser:
    """Build the command line: checkpoint, output folder, device and the data options of ``fit``."""
    parser = ArgumentParser(
        prog="python -m mnist_lit.report",
        description="Evaluate a checkpoint on the MNIST test set (or --data.custom_dir) and write "
        "all figures as PNG, metrics.json and a report.md page that shows them.",
        exit_on_error=False,
    )
    add_checkpoint_arguments(parser)
    parser.add_argument(
        "--out",
        type=str | None,
        default=None,
        help="Output folder; default: report/ in the checkpoint's run folder (lightning_logs/version_N/report/).",
    )
    parser.add_argument(
        "--device", type=str, default="auto", help="auto (a CUDA GPU if there is one), cpu or cuda."
    )
    parser.add_argument(
        "--image_index", type=int, default=0, help="Test image whose feature maps are shown."
    )
    parser.add_class_arguments(
        MNISTDataModule,
        "data",
        skip={"mean", "std", "predict_dir", "train_size", "val_size", "seed", "save_preprocessed"},
    )
    parser.set_defaults({"data.batch_size": 500})
    return parser


def main(args: Sequence[str] | None = None) -> Path:
    """Parse the command line, write the report; a user's mistake is a one-line error (exit 2)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    parser = build_parser()
    try:
        config = parser.parse_args(args)
    except Exception as err:  # jsonargparse's parse errors
        print(
            f"mnist_lit.report: error: {one_line(err)} (options: python -m mnist_lit.report --help)",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    try:
        # ``instantiate`` since jsonargparse 4.49, ``instantiate_classes`` before
        init = getattr(parser, "instantiate", parser.instantiate_classes)(config)
        return make_report(
            init.ckpt_path, init.out, init.data, init.logs, init.device, init.image_index
        )
    except MnistLitError as err:
        print(f"mnist_lit.report: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
