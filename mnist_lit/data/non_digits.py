"""Generated non-digits for training: images the model should read as no digit in particular.

    images = make_non_digits(train_digits, count=10_000, seed=42)  # (N, 28, 28) uint8

Outlier exposure (Hendrycks et al., 2019): a network trained on digits alone gives every image a
digit, often with high confidence. Shown some non-digits during training, with the target of equal
probabilities for all ten digits, it learns to keep its confidence low for what is not a digit,
and the unsure threshold (``models/calibration.py``) catches much more of it.

Three kinds, made here rather than drawn from the non-digit benchmark's kinds (letters, random-walk
scribbles, shapes, photos; ``benchmarks/non_digits.py``), so that the benchmark measures what the
model learned in general, not the same generator:

- pieces of training digits: the upper, lower, left or right part of one, or two overlaid with one
  turned by 90, 180 or 270 degrees;
- blobs: smoothed noise above a random level;
- polylines: three to six straight strokes joined at random corners.

Each is fitted into 28x28 as MNIST's digits are (``preprocess.fit_to_mnist``): what the network sees
of a user's non-digit after ``predict``'s preprocessing looks the same way.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import Tensor

from mnist_lit.data.preprocess import fit_to_mnist

KINDS = ("pieces", "blobs", "polylines")
"""The kinds of non-digit, in the proportions 2 : 1 : 1."""


def _piece(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    digit = digits[rng.integers(len(digits))].astype(np.float32) / 255
    cut = int(rng.integers(10, 18))
    kind = rng.integers(5)
    if kind == 0:
        digit[:cut] = 0  # the lower part
    elif kind == 1:
        digit[cut:] = 0  # the upper part
    elif kind == 2:
        digit[:, :cut] = 0  # the right part
    elif kind == 3:
        digit[:, cut:] = 0  # the left part
    else:  # two digits, one turned
        other = digits[rng.integers(len(digits))].astype(np.float32) / 255
        digit = np.maximum(digit, np.rot90(other, int(rng.integers(1, 4))))
    piece: np.ndarray = digit
    return piece


def _blob(rng: np.random.Generator) -> np.ndarray:
    noise = torch.from_numpy(rng.standard_normal((1, 1, 28, 28)).astype(np.float32))
    size = int(rng.integers(1, 4)) * 2 + 1
    smooth = F.avg_pool2d(F.pad(noise, (size // 2,) * 4, mode="reflect"), size, 1)[0, 0].numpy()
    blob: np.ndarray = np.clip(smooth - np.quantile(smooth, rng.uniform(0.6, 0.9)), 0, None)
    return blob


def _polyline(rng: np.random.Generator) -> np.ndarray:
    image = Image.new("L", (56, 56), 0)
    corners = [tuple(rng.uniform(4, 52, 2)) for _ in range(int(rng.integers(3, 7)))]
    ImageDraw.Draw(image).line(corners, fill=255, width=int(rng.integers(2, 5)))
    return np.asarray(image, dtype=np.float32) / 255


def make_non_digits(digits: Tensor, count: int, seed: int) -> Tensor:
    """Return ``count`` generated non-digits ``(count, 28, 28)`` uint8, light on black, like MNIST.

    Args:
        digits: Training digits ``(N, 28, 28)`` uint8, the source of the pieces.
        count: How many to make (half pieces, a quarter each blobs and polylines).
        seed: The same seed gives the same images.

    """
    rng = np.random.default_rng(seed)
    source = digits.reshape(-1, 28, 28).numpy()
    made: list[np.ndarray] = []
    while len(made) < count:
        draw = int(rng.integers(4))  # 0, 1: a piece; 2: a blob; 3: a polyline
        kind = KINDS[max(draw - 1, 0)] if len(source) else KINDS[1 + draw % 2]
        ink = (
            _piece(source, rng)
            if kind == "pieces"
            else _blob(rng)
            if kind == "blobs"
            else _polyline(rng)
        )
        if ink.sum() < 10:  # too little ink to be anything: draw again
            continue
        made.append(fit_to_mnist(ink))
    if not made:
        return torch.zeros(0, 28, 28, dtype=torch.uint8)
    return torch.from_numpy(np.stack(made))
