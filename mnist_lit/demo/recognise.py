"""Read one image with a trained network: the function behind the drawing demo.

    from mnist_lit.demo.recognise import Recogniser
    recognise = Recogniser.from_checkpoint("best")
    result = recognise(Image.open("my_digit.png"))
    result.digit, result.probabilities, result.pixels  # 7, (10,) floats, (28, 28) uint8
    result.attribution  # (28, 28) floats: Grad-CAM's map, the pixels that made it read a 7

The image goes through the same preprocessing as ``predict --data.predict_dir`` (``preprocess``)
and the same normalisation as in training (the checkpoint's ``mean`` and ``std``), so a drawing
saved from the demo gets the same answer from ``predict`` and ``test``. Only the network is
loaded, not Lightning, so a program using this starts in a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from mnist_lit.constants import IMAGE_SIZE, MEAN, STD
from mnist_lit.data.preprocess import normalize, preprocess
from mnist_lit.explain.attributions import Explainer
from mnist_lit.models.calibration import UNCALIBRATED, Calibration, read_calibration
from mnist_lit.numbers.reader import DEFAULT_COSTS, Costs, NumberReader, costs_for
from mnist_lit.training.checkpoints import (
    load_checkpoint,
    network_from_checkpoint,
    resolve_checkpoint,
)


@dataclass(frozen=True)
class Recognition:
    """What the network made of one image."""

    digit: int
    """The most probable digit."""
    probabilities: np.ndarray
    """``(10,)`` float probability of each digit, 0 to 9; they sum to 1."""
    pixels: np.ndarray
    """``(28, 28)`` uint8: the image the network saw, after preprocessing."""
    unsure: bool = False
    """Whether the (calibrated) confidence is below the checkpoint's unsure threshold: an unclear
    digit, or not a digit at all (``models/calibration.py``)."""
    attribution: np.ndarray | None = None
    """``(28, 28)`` float Grad-CAM map for the digit read (``mnist_lit.explain``), positive where
    the image speaks for it; ``None`` when the recogniser was made with ``explain=False``."""

    @property
    def confidence(self) -> float:
        """Probability of the predicted digit."""
        return float(self.probabilities[self.digit])


class Recogniser:
    """A trained network that reads single images, on the CPU (about a millisecond each).

    Each reading also comes with its Grad-CAM map, which costs about as much as the reading
    (one forward and one backward pass; ``docs/explanations.md``).

    Args:
        net: Maps normalised ``(B, 1, 28, 28)`` images to ``(B, 10)`` logits (a ``ConvNet``).
        mean: Normalisation mean the network was trained with.
        std: Normalisation standard deviation it was trained with.
        path: The checkpoint file it came from, if any (shown to users).
        calibration: Temperature and unsure threshold; ``None`` (a checkpoint written before
            calibration existed): probabilities unscaled, never unsure.
        explain: Add the Grad-CAM map of the digit read to each reading.
        number_costs: How the number reader (the demo's wide canvas) weighs candidate digits'
            shapes; ``numbers.reader.costs_for(checkpoint)`` by ``from_checkpoint``.

    """

    def __init__(
        self,
        net: nn.Module,
        mean: float = MEAN,
        std: float = STD,
        path: Path | None = None,
        calibration: Calibration | None = None,
        explain: bool = True,
        number_costs: Costs = DEFAULT_COSTS,
    ) -> None:
        self.net = net.eval().cpu()
        self.mean = mean
        self.std = std
        self.path = path
        self.calibration = calibration
        self.explainer = Explainer(self.net, mean, std) if explain else None
        self.number_costs = number_costs

    @classmethod
    def from_checkpoint(
        cls, ckpt_path: str | Path, logs: str | Path = "lightning_logs", explain: bool = True
    ) -> Recogniser:
        """Load ``best``, ``last`` (the newest run under ``logs``) or a ``.ckpt`` file.

        ``explain``: add each reading's Grad-CAM map, as for the class itself.

        Raises:
            CheckpointError: No such checkpoint, or not one of this project's models.

        """
        path = resolve_checkpoint(str(ckpt_path), logs)
        checkpoint = load_checkpoint(path)
        hparams = checkpoint.get("hyper_parameters", {})
        net = network_from_checkpoint(checkpoint, path)
        mean, std = float(hparams.get("mean", MEAN)), float(hparams.get("std", STD))
        calibration = read_calibration(checkpoint)
        return cls(net, mean, std, path, calibration, explain, costs_for(checkpoint))

    def number_reader(self) -> NumberReader:
        """Return a reader of whole numbers with this network, its calibration and costs."""
        return NumberReader(self.net, self.mean, self.std, self.calibration, self.number_costs)

    def __call__(self, image: Image.Image) -> Recognition:
        """Preprocess ``image`` like MNIST and classify it.

        Raises:
            ImageError: No digit in the image (blank, or too little contrast).

        """
        return self.classify(preprocess(image))

    def classify(self, pixels: np.ndarray) -> Recognition:
        """Classify an MNIST-like ``(28, 28)`` uint8 image (light digit on black)."""
        if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE) or pixels.dtype != np.uint8:
            raise ValueError(f"expected (28, 28) uint8 pixels, got {pixels.shape} {pixels.dtype}")
        batch = normalize(torch.from_numpy(pixels)[None, None], self.mean, self.std)
        calibration = self.calibration or UNCALIBRATED
        with torch.inference_mode():
            scaled = calibration.probabilities(self.net(batch))
        probabilities = scaled[0].numpy()
        unsure = bool(calibration.unsure(scaled)[0])
        digit = int(probabilities.argmax())
        attribution = None
        if self.explainer is not None:
            attribution = self.explainer(batch, "grad_cam", digit)[0].numpy()
        return Recognition(digit, probabilities, pixels, unsure, attribution)
