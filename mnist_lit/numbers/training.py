"""Candidate digits cut from made-up numbers, to train a network that reads numbers.

    images, labels = make_candidates(train_images, train_labels, count=15_000, seed=42)

The number reader (``reader.py``) lets the network choose among cuts: a candidate read with high
confidence is taken for a digit. A network trained on whole MNIST digits alone reads half a digit,
or two touching digits squeezed into one box, with high confidence too, and reads a digit that
carries a sliver of its neighbour less well. So numbers are written here from training digits,
apart, close together or touching (``synthetic.written_number``), split into candidates as the
reader splits them (``segment.segment_ink``), and each candidate is labelled by the strokes it
holds: its digit where it holds nearly all of one digit's and little of another's (``MATCH``,
``SLIVER``); no digit (``NOT_A_DIGIT``, trained towards equal probabilities, as
``data.non_digits``) where it holds a part of a digit, two digits or parts of both (``PART``);
in between it is left out.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mnist_lit.constants import NOT_A_DIGIT
from mnist_lit.data.preprocess import ImageError
from mnist_lit.data.synthetic import written_number
from mnist_lit.numbers.segment import segment_ink

MATCH = 0.9
"""A candidate is a digit when it holds at least this share of the digit's ink ..."""

SLIVER = 0.15
"""... and at most this share of any other digit's."""

PART = 0.6
"""A candidate is no digit when it holds less than this share of every digit's ink, or more
than the rest of a second digit's; between the two it is ``UNCLEAR`` and left out."""

UNCLEAR = -2
"""The label of a candidate left out: nearly a digit, or a digit with much of another."""

GAPS = (-5, 6)
"""Columns between neighbouring digits' ink, at 28 px a digit: from overlapping (touching) to
apart, drawn uniformly."""

LENGTHS = (2, 4)
"""Digits per made-up number, drawn uniformly."""


def label_candidates(boxes: np.ndarray, columns: np.ndarray, digits: list[int]) -> np.ndarray:
    """Return the label of each candidate: its digit, ``NOT_A_DIGIT`` or ``UNCLEAR``.

    A candidate holds a digit when its columns hold at least ``MATCH`` of that digit's ink and
    at most ``SLIVER`` of any other's (the reader cuts blobs along columns); it is none when it
    holds less than ``PART`` of every digit's, or more than ``1 - PART`` of a second one's.

    Args:
        boxes: ``(K, 4)`` left, top, right, bottom of each candidate (``Lattice.boxes``).
        columns: ``(D, W)`` each digit's ink per column (``synthetic.WrittenNumber.columns``).
        digits: Each digit's class.

    """
    cumulative = np.concatenate([np.zeros((len(columns), 1)), np.cumsum(columns, axis=1)], axis=1)
    width = columns.shape[1]
    left = np.clip(boxes[:, 0], 0, width)
    right = np.clip(boxes[:, 2], 0, width)
    held = (cumulative[:, right] - cumulative[:, left]).T / np.maximum(cumulative[:, -1], 1e-6)
    best = held.argmax(axis=1)  # (K,)
    others = held.copy()
    others[np.arange(len(boxes)), best] = 0
    most = held[np.arange(len(boxes)), best]
    rest = others.max(axis=1, initial=0)
    labels = np.full(len(boxes), UNCLEAR, dtype=np.int64)
    labels[(most >= MATCH) & (rest <= SLIVER)] = np.asarray(digits)[best][
        (most >= MATCH) & (rest <= SLIVER)
    ]
    labels[(most < PART) | (rest > 1 - PART)] = NOT_A_DIGIT
    return labels


def make_candidates(images: Tensor, labels: Tensor, count: int, seed: int) -> tuple[Tensor, Tensor]:
    """Return ``count`` candidates ``(count, 28, 28)`` uint8 and their labels ``(count,)`` int64.

    About as many candidates that are digits as that are not: every digit a number's split
    yields, and as many of its other candidates, chosen at random.

    Args:
        images: Training digits ``(N, 28, 28)`` uint8, light on black.
        labels: Their classes ``(N,)``.
        count: How many candidates to make.
        seed: The same seed gives the same candidates.

    """
    rng = np.random.default_rng(seed)
    source, classes = images.reshape(-1, 28, 28).numpy(), labels.numpy()
    made: list[np.ndarray] = []
    made_labels: list[np.ndarray] = []
    total = 0
    while total < count and len(source):
        picks = rng.integers(0, len(source), size=int(rng.integers(LENGTHS[0], LENGTHS[1] + 1)))
        gap = int(rng.integers(GAPS[0], GAPS[1] + 1))
        number = written_number([source[p] for p in picks], gap, rng)
        try:
            lattice = segment_ink(number.strip.astype(np.float32) / 255)
        except ImageError:
            continue
        found = label_candidates(lattice.boxes, number.columns, [int(classes[p]) for p in picks])
        digits = np.flatnonzero(found >= 0)
        others = np.flatnonzero(found == NOT_A_DIGIT)
        others = rng.permutation(others)[: max(len(digits), 1)]
        keep = np.concatenate([digits, others])
        made.append(lattice.images[keep])
        made_labels.append(found[keep])
        total += len(keep)
    if not made:
        return torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.long)
    chosen = rng.permutation(total)[:count]
    return (
        torch.from_numpy(np.concatenate(made)[chosen]),
        torch.from_numpy(np.concatenate(made_labels)[chosen]),
    )
