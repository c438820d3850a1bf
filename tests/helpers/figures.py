"""What a figure of labelled images shows, read back from its pixels as a user would by eye.

``plot_predictions`` and ``plot_misclassified`` draw a grid of images, each under the predicted
digit in green (right) or red (wrong). ``shown_images`` finds the images in a PNG or a rendered
figure and says which of a set of candidates each one is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage


@dataclass
class Tile:
    """One image of a grid figure."""

    pixels: np.ndarray
    """``(28, 28)`` uint8: the image as shown, scaled back to MNIST's size."""
    colour: str | None
    """Colour of its label above it: ``"green"``, ``"red"``, or ``None`` if neither."""


def tiles(figure: np.ndarray) -> list[Tile]:
    """The images of a grid figure, in reading order (row by row, left to right).

    Args:
        figure: ``(H, W, 3)`` uint8 pixels of the whole figure.

    """
    rgb = figure[..., :3].astype(int)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    grey = (abs(red - green) < 10) & (abs(green - blue) < 10)
    # an image is a block of grey pixels (white strokes inside it included); text is far smaller
    blocks, _ = ndimage.label(ndimage.binary_fill_holes(grey & (red < 250)))
    boxes = [box for box in ndimage.find_objects(blocks) if box is not None]
    side = max((min(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes), default=0)
    found = [b for b in boxes if min(b[0].stop - b[0].start, b[1].stop - b[1].start) > side * 0.8]
    found.sort(key=lambda b: (round(b[0].start / side), b[1].start))
    out = []
    for rows, cols in found:
        crop = Image.fromarray(np.uint8(rgb[rows, cols].mean(axis=2)))
        small = np.asarray(crop.resize((28, 28), Image.Resampling.BOX))
        label = rgb[max(rows.start - side // 2, 0) : rows.start, cols]  # the band above it
        reds = ((label[..., 0] > 150) & (label[..., 1] < 100) & (label[..., 2] < 100)).sum()
        greens = ((label[..., 1] > 90) & (label[..., 0] < 80) & (label[..., 2] < 80)).sum()
        colour = "red" if reds > max(greens, 5) else "green" if greens > max(reds, 5) else None
        out.append(Tile(small, colour))
    return out


def which(tile: Tile, candidates: np.ndarray) -> int:
    """Index of the image among ``candidates`` (``(N, 28, 28)`` uint8) that ``tile`` shows."""
    distance = np.abs(candidates.astype(float) - tile.pixels.astype(float)).mean(axis=(1, 2))
    best, second = np.sort(distance)[:2] if len(distance) > 1 else (distance[0], np.inf)
    assert best < 8 and second > 2 * best, f"no candidate is clearly the image shown: {best}"
    return int(distance.argmin())


def shown_images(figure: np.ndarray, candidates: np.ndarray) -> list[tuple[int, str | None]]:
    """``(index in candidates, label colour)`` of each image the figure shows, in reading order."""
    return [(which(tile, candidates), tile.colour) for tile in tiles(figure)]
