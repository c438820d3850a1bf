"""Digits as users bring them, made from MNIST test digits and fonts, read as ``predict`` reads files.

    sets = own_image_sets(test_images, test_labels, count=1000, seed=0)
    images, labels = sets["canvas"]  # (N, 1, 28, 28) floats in [0, 1], (N,)

Each set dresses digits as one kind of image users bring (``data/synthetic.py`` draws them), puts
them through the file format they would arrive in, and turns them back into MNIST-like 28x28
digits with ``data/preprocess.py``, exactly as ``predict`` and ``test --data.custom_dir`` do:

- ``paper-jpeg`` / ``paper-png``: dark ink on tinted, unevenly lit, noisy paper, at a random size
  and place, as a JPEG (quality 85) or PNG;
- ``canvas``: a browser canvas export, 280x280 RGBA strokes on transparency;
- ``printed``: the digits 0-9 in every DejaVu font installed, at 24, 48 and 96 px, turned by
  -10, -5, 0, 5 and 10 degrees.

``benchmarks/user_images.py`` writes the same sets as folders of files.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from mnist_lit.data.preprocess import ImageError, preprocess
from mnist_lit.data.synthetic import canvas, fonts, on_paper, printed

Sample = tuple[Image.Image, int]

OWN_IMAGE_SETS = ("paper-jpeg", "paper-png", "canvas", "printed")
"""The sets, in the order they are reported."""

FORMATS = {"paper-jpeg": "JPEG"}
"""The file format each set is saved in (PNG unless named here)."""


def mnist_sets(images: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, Iterator[Sample]]:
    """Return the sets made from MNIST digits ``(N, 28, 28)`` uint8: photos of paper and canvas exports."""
    rng = np.random.default_rng(seed)
    pairs = list(zip(images, labels.tolist(), strict=True))
    return {
        "paper-jpeg": ((on_paper(d, rng), y) for d, y in pairs),
        "paper-png": ((on_paper(d, rng), y) for d, y in pairs),
        "canvas": ((canvas(d, rng), y) for d, y in pairs),
    }


def printed_set() -> Iterator[Sample]:
    """Yield the digits 0-9 printed in each DejaVu font (maths fonts left out), sizes and angles."""
    for font in fonts():
        if "Math" in font.name:  # a maths font: its digits are not in the usual shapes
            continue
        for size in (24, 48, 96):
            for angle in (-10, -5, 0, 5, 10):
                for digit in range(10):
                    yield printed(digit, font, size, angle), digit


def as_file(image: Image.Image, kind: str) -> Image.Image:
    """``image`` saved in the file format ``kind`` and decoded again (JPEG's loss included)."""
    buffer = io.BytesIO()
    image.save(buffer, format=kind, quality=85) if kind == "JPEG" else image.save(buffer, kind)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded.load()
        return decoded


def read_set(samples: Iterator[Sample], kind: str = "PNG") -> tuple[Tensor, Tensor]:
    """Save, decode and preprocess each sample: ``(N, 1, 28, 28)`` floats in [0, 1] and labels.

    An image the preprocessing finds no digit in becomes a black image (a wrong answer for any
    model), so every sample counts.
    """
    pixels, labels = [], []
    for image, label in samples:
        try:
            digit = preprocess(as_file(image, kind))
        except ImageError:
            digit = np.zeros((28, 28), dtype=np.uint8)
        pixels.append(digit)
        labels.append(label)
    images = torch.from_numpy(np.stack(pixels)).unsqueeze(1).float() / 255
    return images, torch.tensor(labels, dtype=torch.long)


def own_image_sets(
    images: Tensor, labels: Tensor, count: int, seed: int
) -> Iterator[tuple[str, Tensor, Tensor]]:
    """Yield ``(name, images, labels)`` for each set, made from ``count`` of the given digits.

    Args:
        images: MNIST digits ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` uint8 (the test set).
        labels: ``(N,)`` their digits.
        count: How many digits (picked at random, the same for each set) to dress.
        seed: Picks the digits and every random choice of the drawing.

    """
    pick = np.random.default_rng(seed).choice(len(labels), min(count, len(labels)), replace=False)
    digits = images.reshape(-1, 28, 28).numpy()[pick]
    made = mnist_sets(digits, labels.numpy()[pick], seed)
    for name in OWN_IMAGE_SETS:
        samples = printed_set() if name == "printed" else made[name]
        yield (name, *read_set(samples, FORMATS.get(name, "PNG")))
