"""Random affine distortions of a whole batch at once, on whatever device the batch is on.

    python -m mnist_lit fit --config configs/default.yaml --data.augment_degrees 12 --data.augment_shift 0.1

One ``affine_grid`` + ``grid_sample`` call moves every image of a batch by its own random rotation,
scale and shift, so augmentation costs about as much as one small conv layer and never leaves the
device (no per-image PIL or torchvision call in a DataLoader worker). The datamodule applies it to
training batches only (``MNISTDataModule.on_after_batch_transfer``), never to validation, test or
predict.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_affine(
    images: Tensor,
    degrees: float = 0.0,
    shift: float = 0.0,
    scale: float = 0.0,
    background: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rotate, scale and shift each image by its own random amounts (bilinear resampling).

    Each image draws uniformly: an angle in ``[-degrees, degrees]``, a zoom factor in
    ``[1 - scale, 1 + scale]`` and a shift in ``[-shift, shift]`` of the image's width and of its
    height: the image is turned and zoomed about its centre, then moved by the shift (as
    torchvision's ``RandomAffine``). Pixels moved in from outside the image get ``background``.

    Args:
        images: ``(B, C, H, W)`` floating-point images.
        degrees: Largest rotation, in degrees, either way.
        shift: Largest shift, as a fraction of the width (horizontally) and height (vertically).
        scale: Largest relative change of size (0.1: 90% to 110%).
        background: Value of the pixels moved in from outside (the normalised value of black).
        generator: Source of the random draws (on the images' device); the global one if ``None``.

    Returns:
        A new ``(B, C, H, W)`` tensor; ``images`` itself when every amount is 0.

    """
    if degrees < 0 or shift < 0 or not 0 <= scale < 1:
        raise ValueError(
            f"need degrees >= 0, shift >= 0 and 0 <= scale < 1, got {degrees}, {shift}, {scale}"
        )
    if not (degrees or shift or scale) or len(images) == 0:
        return images
    batch = len(images)

    def uniform(bound: float, count: int = 1) -> Tensor:  # (B, count) in [-bound, bound]
        draw = torch.rand(
            batch, count, device=images.device, dtype=images.dtype, generator=generator
        )
        return (2 * draw - 1) * bound

    angle = uniform(math.radians(degrees))[:, 0]
    zoom = 1 + uniform(scale)[:, 0]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # The grid maps each output pixel to where it is read in the input, in coordinates from -1 to
    # 1 across the image (a fraction f of the width is 2f there): input = A (output - move), for
    # A the inverse rotation and zoom about the centre and ``move`` how far the content shifts.
    linear = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (B, 2, 2)
    move = uniform(2 * shift, 2)  # (B, 2): x, y
    theta = torch.cat([linear, -(linear @ move.unsqueeze(2))], dim=2)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images - background, grid, mode="bilinear", align_corners=False)
    return moved + background
