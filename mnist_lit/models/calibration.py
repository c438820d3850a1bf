"""Calibrated confidence and the "unsure" decision, fitted on the validation split.

    calibration = fit_calibration(val_logits, val_labels)   # at each validation of fit
    probabilities = calibration.probabilities(logits)      # softmax(logits / temperature)
    unsure = calibration.unsure(probabilities)              # (N,) bool

A network trained with cross-entropy is often over-confident: of the digits it reads with 99%
confidence, fewer than 99% are right. Temperature scaling (Guo et al., 2017) divides the logits by
one number, fitted to minimise the cross-entropy of the validation digits; the predicted digit is
unchanged, the confidence then means what it says.

The unsure decision flags an image whose calibrated confidence is below a threshold, chosen on the
same validation digits so that ``FLAG_RATE`` of them (a little under 1%) fall below it. Images
that are not digits at all (letters, scribbles, photos) mostly get low confidence too, so the same
threshold flags many of them; the share is measured by ``benchmarks/non_digits.py``.

Both numbers are stored in the checkpoint under ``CHECKPOINT_KEY``; checkpoints written before they
existed load without them (probabilities unscaled, nothing flagged), with one line saying so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

CHECKPOINT_KEY = "calibration"
"""Where a checkpoint keeps its ``Calibration`` (a dict of plain numbers)."""

FLAG_RATE = 0.008
"""Share of the validation digits left below the unsure threshold: with this margin, no more than
1% of MNIST's test digits are flagged (a threshold at exactly 1% of 5,000 validation digits would
flag about 1% of the test digits, half the time more)."""

MIN_IMAGES = 100
"""Fewer validation images than this fit no calibration (too few to estimate a 1% quantile)."""


@dataclass(frozen=True)
class Calibration:
    """A temperature for the logits and the confidence below which a reading is unsure.

    Args:
        temperature: Logits are divided by it before the softmax (1 = unchanged).
        threshold: Calibrated confidence below which an image is flagged unsure (0 = never).
        images: How many validation images it was fitted on.
        flag_rate: Share of those images below ``threshold``.

    """

    temperature: float = 1.0
    threshold: float = 0.0
    images: int = 0
    flag_rate: float = 0.0

    def probabilities(self, logits: Tensor) -> Tensor:
        """Calibrated class probabilities ``(N, 10)`` from logits."""
        return (logits.float() / self.temperature).softmax(dim=1)

    def unsure(self, probabilities: Tensor) -> Tensor:
        """``(N,)`` bool: whether each reading's (calibrated) confidence is below the threshold."""
        return probabilities.max(dim=1).values < self.threshold

    def to_dict(self) -> dict[str, float | int]:
        """Plain numbers, for the checkpoint (``weights_only`` loading reads them)."""
        return asdict(self)

    def describe(self) -> str:
        """One line for logs: the temperature and the threshold."""
        return (
            f"temperature {self.temperature:.3f}, unsure below {self.threshold:.1%} confidence "
            f"({self.flag_rate:.2%} of {self.images:,} validation images)"
        )


UNCALIBRATED = Calibration()
"""What a checkpoint without calibration gets: unscaled probabilities, never unsure."""


def fit_temperature(logits: Tensor, labels: Tensor) -> float:
    """Return the temperature that minimises the cross-entropy of ``logits / T`` on ``labels``.

    Fitted as ``log T`` (so ``T`` stays positive) with L-BFGS, in float64; a few milliseconds for
    thousands of images.
    """
    logits, labels = logits.detach().double().cpu(), labels.detach().cpu()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    return temperature if math.isfinite(temperature) else 1.0


def fit_calibration(logits: Tensor, labels: Tensor, flag_rate: float = FLAG_RATE) -> Calibration:
    """Fit the temperature, then the threshold that leaves ``flag_rate`` of the images below it.

    Returns ``UNCALIBRATED`` for fewer than ``MIN_IMAGES`` images or non-finite logits (a
    diverged run).
    """
    if len(labels) < MIN_IMAGES or not bool(torch.isfinite(logits).all()):
        return UNCALIBRATED
    temperature = fit_temperature(logits, labels)
    confidence = (logits.double().cpu() / temperature).softmax(dim=1).max(dim=1).values
    threshold = float(torch.quantile(confidence, flag_rate))
    flagged = float((confidence < threshold).double().mean())
    return Calibration(temperature, threshold, len(labels), flagged)


def read_calibration(checkpoint: Mapping[str, Any]) -> Calibration | None:
    """Return the checkpoint's calibration, or ``None`` if it was written before calibration existed."""
    stored = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(stored, Mapping):
        return None
    fields = {
        k: stored[k] for k in ("temperature", "threshold", "images", "flag_rate") if k in stored
    }
    calibration = Calibration(**fields)
    if not (math.isfinite(calibration.temperature) and calibration.temperature > 0):
        return None
    return calibration


NOT_CALIBRATED_NOTE = (
    "this checkpoint has no calibration (written before it existed): probabilities are not "
    "temperature-scaled and no reading is marked unsure"
)
"""The one line said when such a checkpoint is used."""
