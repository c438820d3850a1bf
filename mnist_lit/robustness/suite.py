"""The robustness suite: models scored on the MNIST test digits clean, corrupted and dressed up.

    sets = suite_sets(test_images, test_labels, specs=list(CORRUPTIONS), own_images=500, seed=0)
    rows = run_suite({"default": model_a, "best": model_b}, sets, torch.device("cpu"))

Each set is the 10,000 test digits (or the own-image sets' digits) after one change; every model
reads the same images. A row holds each model's accuracy on one set; ``summary_rows`` adds the
means over each family (MNIST-C's fifteen corruptions, the writer-style shifts, the own-image
sets), the figures the issue's targets are stated in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mnist_lit.models.calibration import UNCALIBRATED
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.models.layout import fast_cpu_layout
from mnist_lit.robustness.corruptions import Corruption, corrupt, parse_spec
from mnist_lit.robustness.own_images import own_image_sets
from mnist_lit.viz.calibration import calibration_error

FAMILIES = {
    "clean": "MNIST test set",
    "mnist-c": "MNIST-C corruptions",
    "writer": "writer-style shifts",
    "own-images": "own-image sets",
}
"""Each family of sets and how tables name its mean."""


@dataclass(frozen=True)
class SuiteSet:
    """One set of the suite: labelled images, floats in [0, 1], ``(N, 1, 28, 28)``."""

    name: str
    family: str
    severity: int | None
    images: Tensor
    labels: Tensor


@dataclass
class Row:
    """Each model's accuracy and calibration error on one set (a family's mean: ``images`` 0).

    ``ece`` is the expected calibration error (15 bins) of the calibrated probabilities,
    ``ece_unscaled`` that before temperature scaling (the same for a model without calibration).
    """

    name: str
    family: str
    severity: int | None
    images: int
    accuracy: dict[str, float] = field(default_factory=dict)
    ece: dict[str, float] = field(default_factory=dict)
    ece_unscaled: dict[str, float] = field(default_factory=dict)


def suite_sets(
    images: Tensor, labels: Tensor, specs: Sequence[str], own_images: int, seed: int
) -> Iterator[SuiteSet]:
    """Yield the clean test set, each corruption of ``specs`` and the own-image sets, lazily.

    Args:
        images: The MNIST test digits, ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` uint8.
        labels: Their digits.
        specs: Corruptions as ``name`` or ``name:severity`` (checked before anything runs).
        own_images: Test digits to dress as photos and canvas exports (0: no own-image sets).
        seed: Seeds every corruption and drawing.

    Raises:
        ConfigError: A corruption or severity that does not exist, before any set is made.

    """
    chosen = [parse_spec(spec) for spec in specs]
    return _sets(images, labels, chosen, own_images, seed)


def _sets(
    images: Tensor,
    labels: Tensor,
    chosen: Sequence[tuple[Corruption, int]],
    own_images: int,
    seed: int,
) -> Iterator[SuiteSet]:
    clean = images.reshape(-1, 1, 28, 28).float() / 255
    yield SuiteSet("clean", "clean", None, clean, labels)
    for corruption, severity in chosen:
        changed = corrupt(clean, corruption.name, severity, seed)
        yield SuiteSet(corruption.name, corruption.family, severity, changed, labels)
    if own_images > 0:
        for name, own, own_labels in own_image_sets(images, labels, own_images, seed):
            yield SuiteSet(name, "own-images", None, own, own_labels)


@torch.inference_mode()
def logits_of(
    model: MNISTClassifier, images: Tensor, device: torch.device, batch_size: int = 1000
) -> Tensor:
    """Return the model's logits ``(N, 10)`` for images in [0, 1], on the CPU, in float32."""
    model.eval().to(device)
    fast_cpu_layout(model)
    mean, std = model.hparams["mean"], model.hparams["std"]
    out = [torch.zeros(0, 10)]
    for start in range(0, len(images), batch_size):
        batch = (images[start : start + batch_size].to(device) - mean) / std
        out.append(model(batch).float().cpu())
    return torch.cat(out)


def classify(
    model: MNISTClassifier, images: Tensor, device: torch.device, batch_size: int = 1000
) -> Tensor:
    """Return the model's class probabilities ``(N, 10)`` for images in [0, 1], on the CPU.

    Calibrated with the model's temperature, as ``predict`` reports them (``models/calibration.py``).
    """
    logits = logits_of(model, images, device, batch_size)
    return (model.calibration or UNCALIBRATED).probabilities(logits)


def run_suite(
    models: Mapping[str, MNISTClassifier],
    sets: Iterator[SuiteSet],
    device: torch.device,
    progress: Callable[[Row, float], None] | None = None,
) -> list[Row]:
    """Score every model on every set; call ``progress(row, seconds)`` after each set."""
    rows = []
    for suite_set in sets:
        start = time.perf_counter()
        row = Row(suite_set.name, suite_set.family, suite_set.severity, len(suite_set.labels))
        for name, model in models.items():
            logits = logits_of(model, suite_set.images, device)
            probabilities = (model.calibration or UNCALIBRATED).probabilities(logits)
            predicted = probabilities.argmax(dim=1)
            row.accuracy[name] = float((predicted == suite_set.labels).float().mean())
            row.ece[name] = calibration_error(probabilities, suite_set.labels)
            row.ece_unscaled[name] = calibration_error(logits.softmax(dim=1), suite_set.labels)
        rows.append(row)
        if progress is not None:
            progress(row, time.perf_counter() - start)
    return rows


def summary_rows(rows: Sequence[Row]) -> list[Row]:
    """Return the means of each family with more than one set, per model (``images`` 0)."""
    means = []
    for family, title in FAMILIES.items():
        members = [row for row in rows if row.family == family]
        if len(members) < 2:
            continue
        means.append(
            Row(
                f"mean: {title}",
                family,
                None,
                0,
                _mean(members, "accuracy"),
                _mean(members, "ece"),
                _mean(members, "ece_unscaled"),
            )
        )
    return means


def _mean(rows: Sequence[Row], field: str) -> dict[str, float]:
    """Return the mean over ``rows`` of each model's figure ``field`` (``accuracy``, ``ece``, ...)."""
    models = getattr(rows[0], field)
    return {m: sum(getattr(r, field)[m] for r in rows) / len(rows) for m in models}
