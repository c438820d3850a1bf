"""Read a number: the network scores every candidate digit, a dynamic programme picks the cuts.

    from mnist_lit.numbers.reader import NumberReader
    reader = NumberReader(net, mean, std, calibration)   # e.g. a demo Recogniser's
    reading = reader(Image.open("0417.jpg"))
    reading.number, reading.confidences, reading.boxes  # "0417", (0.99, ...), ((l, t, r, b), ...)

The work is split in two so that ``predict`` can batch it: the image work (``segment.py``: ink,
atoms, every candidate drawn as a 28x28 digit) runs where images are decoded — the DataLoader's
workers in ``predict``, the caller here — and yields a ``Lattice``; the network then reads all of
a batch's candidates at once, and ``choose`` picks, per image, the candidates that tile its atoms
with the best total score (log-probability of the candidate's digit plus its shape's log-prior):
a shortest path over the atom boundaries. So the classifier, not only the gaps, decides where
touching or broken digits are cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import nn

from mnist_lit.constants import MEAN, STD
from mnist_lit.data.preprocess import normalize
from mnist_lit.models.calibration import UNCALIBRATED, Calibration
from mnist_lit.numbers.segment import Lattice, segment_image


class Costs(NamedTuple):
    """The log-prior of a candidate digit: a gain per digit, costs per measure of its shape.

    Chosen on numbers made of MNIST *training* digits (``benchmarks/read_numbers.py --split
    train``), read with the default model, by a grid search of the share read entirely right.
    """

    digit: float = 0.5
    """Gain per digit read: balances the sum of log-probabilities, which favours fewer digits."""
    wide: float = 4.0
    """Cost per digit height of width beyond 1.1 digit heights."""
    gap: float = 12.0
    """Cost per digit height of empty columns inside beyond a broken stroke's (``segment.BROKEN_GAP``)."""
    short: float = 4.0
    """Cost per digit height that the height falls short of half the digits'."""
    cut: float = 0.5
    """Cost per stroke that a boundary between digits cuts through (none for a gap)."""
    skip: float = 2.5
    """Cost of leaving out one atom as part of no digit (a dot, a smudge): a last resort."""


DEFAULT_COSTS = Costs()
"""The costs ``choose`` uses unless given others: for a network trained on whole digits."""

PIECE_COSTS = Costs(digit=0.0, wide=2.0, cut=0.0)
"""The costs for a network trained on number pieces (``--data.number_pieces``, the numbers
preset). It learned that halves and touching pairs are no digit, so it judges the cuts itself, and
the gain per digit and the cost of cutting through strokes, which a network of whole digits needs,
get in its way. Chosen as ``DEFAULT_COSTS`` were, on 600 numbers of training digits: touching
41.0% -> 51.5% read right, apart 91.5% -> 92.0%. (The default model with them: apart 90.1% ->
85.1% on the benchmark's numbers.)"""


def costs_for(checkpoint: Mapping[str, Any]) -> Costs:
    """Return the costs that suit a checkpoint's network.

    ``PIECE_COSTS`` if it was trained on number pieces (its datamodule's ``number_pieces`` > 0),
    else ``DEFAULT_COSTS``.
    """
    data = checkpoint.get("datamodule_hyper_parameters") or {}
    return PIECE_COSTS if float(data.get("number_pieces") or 0.0) > 0 else DEFAULT_COSTS


def log_prior(lattice: Lattice, costs: Costs = DEFAULT_COSTS) -> np.ndarray:
    """``(K,)`` log-prior of each candidate from its shape (``Lattice.shape``) and ``costs``."""
    weights = np.array([costs.wide, costs.gap, costs.short, costs.cut], dtype=np.float64)
    prior: np.ndarray = costs.digit - lattice.shape.astype(np.float64) @ weights
    return prior


@dataclass(frozen=True)
class NumberReading:
    """The digits read in one image, left to right."""

    number: str
    """The digits as text, leading zeros kept (``"0417"``)."""
    confidences: tuple[float, ...]
    """Calibrated probability of each digit read."""
    unsure: tuple[bool, ...]
    """Whether each digit's confidence is below the checkpoint's unsure threshold."""
    boxes: tuple[tuple[int, int, int, int], ...]
    """Left, top, right, bottom (exclusive) of each digit in the image's pixels."""
    pixels: np.ndarray
    """``(n, 28, 28)`` uint8: each digit as the network saw it."""

    @property
    def is_unsure(self) -> bool:
        """Whether any digit is unsure: the number should not be trusted as read."""
        return any(self.unsure)


def choose(
    lattice: Lattice, probabilities: np.ndarray, unsure: np.ndarray, costs: Costs = DEFAULT_COSTS
) -> NumberReading:
    """Pick the candidates that tile the atoms with the best total score.

    Args:
        lattice: The image's candidates (``segment.py``); its ``images`` may be empty.
        probabilities: ``(K, 10)`` calibrated probabilities of the candidates.
        unsure: ``(K,)`` bool: each candidate's reading below the unsure threshold.
        costs: The log-prior's weights.

    Returns:
        The digits read; ``images`` of the lattice, when present, become ``pixels``.

    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    digits = probabilities.argmax(axis=1)  # (K,)
    confidence = probabilities.max(axis=1, initial=0.0)  # (K,)
    score = np.log(np.clip(confidence, 1e-12, None)) + log_prior(lattice, costs)  # (K,)
    nodes = lattice.atoms + 1
    best = np.full(nodes, -np.inf)
    best[0] = 0.0
    came: list[int] = [-2] * nodes  # candidate ending at each node on the best path; -1: a skip
    order = np.argsort(lattice.spans[:, 1], kind="stable")
    ends = lattice.spans[order, 1]
    position = 0
    for node in range(1, nodes):
        if best[node - 1] - costs.skip > best[node]:  # atom node - 1 left out
            best[node], came[node] = best[node - 1] - costs.skip, -1
        while position < len(order) and ends[position] == node:
            k = int(order[position])
            total = best[lattice.spans[k, 0]] + score[k]
            if total > best[node]:
                best[node], came[node] = total, k
            position += 1
    chosen: list[int] = []
    node = nodes - 1
    while node > 0:
        k = came[node]
        if k == -1:
            node -= 1
            continue
        chosen.append(k)
        node = int(lattice.spans[k, 0])
    chosen.reverse()
    pixels = (
        lattice.images[chosen]
        if len(lattice.images) == len(lattice.spans)
        else np.zeros((len(chosen), 28, 28), dtype=np.uint8)
    )
    return NumberReading(
        number="".join(str(int(digits[k])) for k in chosen),
        confidences=tuple(float(confidence[k]) for k in chosen),
        unsure=tuple(bool(unsure[k]) for k in chosen),
        boxes=tuple(tuple(int(v) for v in lattice.boxes[k]) for k in chosen),  # type: ignore[misc]
        pixels=pixels,
    )


class NumberReader:
    """A trained network that reads numbers written in a row, on the CPU, without Lightning.

    Args:
        net: Maps normalised ``(B, 1, 28, 28)`` images to ``(B, 10)`` logits (a ``ConvNet``).
        mean: Normalisation mean the network was trained with.
        std: Normalisation standard deviation it was trained with.
        calibration: Temperature and unsure threshold; ``None``: unscaled, never unsure.
        costs: The log-prior's weights; ``costs_for(checkpoint)`` picks those that suit a
            checkpoint's network.

    """

    def __init__(
        self,
        net: nn.Module,
        mean: float = MEAN,
        std: float = STD,
        calibration: Calibration | None = None,
        costs: Costs = DEFAULT_COSTS,
    ) -> None:
        self.net = net.eval().cpu()
        self.mean = mean
        self.std = std
        self.calibration = calibration or UNCALIBRATED
        self.costs = costs

    def __call__(self, image: Image.Image) -> NumberReading:
        """Segment ``image`` and read it.

        Raises:
            ImageError: No ink in the image, or far too many pieces (``segment.MAX_PIECES``).

        """
        return self.read(segment_image(image))

    @torch.inference_mode()
    def read(self, lattice: Lattice) -> NumberReading:
        """Score a lattice's candidates with the network and choose the digits."""
        images = torch.from_numpy(lattice.images).unsqueeze(1)  # (K, 1, 28, 28) uint8
        probabilities = self.calibration.probabilities(
            self.net(normalize(images, self.mean, self.std))
        )
        unsure = self.calibration.unsure(probabilities)
        return choose(lattice, probabilities.numpy(), unsure.numpy(), self.costs)
