"""Numbers drawn from the tests' handwriting: any gap, either polarity, no MNIST needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from tests.helpers import DIGITS, render

FIXTURE = Path(__file__).parents[1] / "fixtures" / "v0.1.0-fast.ckpt"
"""A real model (the fast preset, v0.1.0) that reads the handwriting helpers' digits."""


def written(number: str, gap: int, light_on_dark: bool = False, height: int = 80) -> Image.Image:
    """Draw ``number`` with ``gap`` pixels between the digits' ink (negative: they overlap)."""
    return written_with_boxes(number, gap, light_on_dark, height)[0]


def written_with_boxes(
    number: str, gap: int, light_on_dark: bool = False, height: int = 80
) -> tuple[Image.Image, np.ndarray]:
    """``written``, and each digit's ink box: ``(n, 4)`` left, top, right, bottom."""
    inks = []
    for digit in number:
        ink = 255 - np.asarray(render(DIGITS[int(digit)], size=height, width=height // 12))
        columns = np.flatnonzero(ink.max(axis=0) > 0)
        inks.append(ink[:, columns[0] : columns[-1] + 1])
    margin = 20
    width = sum(ink.shape[1] for ink in inks) + gap * (len(inks) - 1) + 2 * margin
    strip = np.zeros((height + 2 * margin, width), dtype=np.uint8)
    left = margin
    boxes = []
    for ink in inks:
        region = strip[margin : margin + height, left : left + ink.shape[1]]
        np.maximum(region, ink, out=region)
        rows = np.flatnonzero(ink.max(axis=1) > 0)
        boxes.append([left, margin + rows[0], left + ink.shape[1], margin + rows[-1] + 1])
        left += ink.shape[1] + gap
    image = Image.fromarray(strip)
    return (image if light_on_dark else ImageOps.invert(image)), np.array(boxes)
