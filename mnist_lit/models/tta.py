"""Test-time augmentation: each image also read shifted up, down, left and right (``tta``).

python -m mnist_lit test --config configs/default.yaml --ckpt_path best --model.tta 2
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def shifts(pixels: int) -> list[tuple[int, int]]:
    """Return the four moves of test-time augmentation: ``pixels`` up, down, left and right."""
    return [(-pixels, 0), (pixels, 0), (0, -pixels), (0, pixels)]


def shift_image(images: Tensor, dy: int, dx: int, fill: float) -> Tensor:
    """Move ``(B, C, H, W)`` images ``dy`` pixels down and ``dx`` right, filling with ``fill``."""
    height, width = images.shape[-2:]
    out = torch.full_like(images, fill)
    out[..., max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = images[
        ..., max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return out


def shifted_probabilities(
    classify: Callable[[Tensor], Tensor], images: Tensor, plain: Tensor, pixels: int, fill: float
) -> Tensor:
    """Average ``plain`` (the images' probabilities) with those of four shifted copies.

    Args:
        classify: Maps normalised images ``(B, 1, 28, 28)`` to logits ``(B, 10)``.
        images: The normalised images ``(B, 1, 28, 28)``.
        plain: Their probabilities ``(B, 10)``, already computed.
        pixels: How far each copy is moved.
        fill: The value of the pixels moved in (the normalised value of black).

    The four copies go through ``classify`` in one batch.

    """
    copies = [shift_image(images, dy, dx, fill) for dy, dx in shifts(pixels)]
    logits = classify(torch.cat(copies)).view(len(copies), len(images), -1)  # (4, B, 10)
    return (plain + logits.softmax(dim=2).sum(dim=0)) / (len(copies) + 1)
