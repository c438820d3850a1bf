"""One evaluation loop: a model over a whole test set, every output kept (report and experiments).

result = evaluate(model, datamodule, torch.device("cpu"))   # the datamodule set up for "test"
result.accuracy, result.confusion(), result.probabilities
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from mnist_lit.constants import CLASS_NAMES
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.data.folders import FolderBatch
from mnist_lit.errors import ConfigError
from mnist_lit.models.calibration import UNCALIBRATED
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.models.layout import fast_cpu_layout
from mnist_lit.training.device import cpu_model


@dataclass
class Evaluation:
    """A model's outputs on a whole test set.

    Args:
        images: ``(N, 1, 28, 28)`` normalised images, on the CPU.
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` predicted class probabilities, calibrated with the model's
            temperature when it has one (``models/calibration.py``).
        loss: Mean cross-entropy.
        seconds: Time the forward passes took.
        device: Where they ran, in words.
        failures: ``(file, reason)`` of each image of a folder that could not be used.
        unscaled: ``(N, 10)`` the probabilities before temperature scaling (plain softmax).

    """

    images: Tensor
    labels: Tensor
    probabilities: Tensor
    loss: float
    seconds: float
    device: str
    failures: list[tuple[str, str]]
    unscaled: Tensor

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
    model: MNISTClassifier,
    datamodule: MNISTDataModule,
    device: torch.device,
    progress: str | None = None,
) -> Evaluation:
    """Run ``model`` over the datamodule's test set (set up already) and keep every output.

    Args:
        model: The model, moved to ``device`` and put in eval mode.
        datamodule: Its ``test_dataloader`` gives the images.
        device: Where to run.
        progress: A label for a progress bar on stderr (batches done, removed when done);
            ``None`` shows none.

    """
    model.eval().to(device)
    fast_cpu_layout(model)
    images, labels, logits = [], [], []
    failures: list[tuple[str, str]] = []
    start = time.perf_counter()
    loader = datamodule.test_dataloader()
    batches = tqdm(
        loader,
        desc=progress,
        unit="batch",
        leave=False,
        disable=progress is None,
        mininterval=0.5 if sys.stderr.isatty() else 15.0,  # a log file: a line every 15 s at most
    )
    with torch.inference_mode():
        for batch in batches:
            batch = datamodule.on_after_batch_transfer(_on(batch, device), 0)
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
        (model.calibration or UNCALIBRATED).probabilities(all_logits),
        float(F.cross_entropy(all_logits, all_labels)),
        seconds,
        where,
        failures,
        all_logits.softmax(dim=1),
    )


def _on(batch: Any, device: torch.device) -> Any:
    """Return ``batch`` with its tensors on ``device``."""
    if isinstance(batch, FolderBatch):
        return batch._replace(images=batch.images.to(device), labels=batch.labels.to(device))
    return tuple(t.to(device) for t in batch)


def choose_device(name: str) -> torch.device:
    """Return the device ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda`` names."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda asked for, but no CUDA GPU is available")
    return torch.device(name)
