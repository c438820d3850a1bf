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
from collections.abc import Callable

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


def degrade(
    images: Tensor,
    share: float,
    mean: float,
    std: float,
    generator: torch.Generator | None = None,
    margins: bool = False,
) -> Tensor:
    """Make a random ``share`` of a batch look like poorer copies: blurred, faded, greyed, noisy.

    Each chosen image is blurred (Gaussian, sigma 0.3-1.5 pixels), its ink faded to 30-100% of its
    strength, laid on a grey background of up to 40% (with ``margins``, bright margins at some of
    its edges too: ``_margins``) and given pixel noise of up to 0.1, each amount drawn per image.
    Generic degradations, not the robustness suite's corruptions, so that the suite measures what
    carries over (the margins were added after the suite's ``stripe`` showed the need: see
    docs/robustness.md). On the images' device, without waiting for it.

    Args:
        images: Normalised ``(B, 1, H, W)`` images.
        share: Fraction of the images to degrade, 0-1 (0: ``images`` itself).
        mean: The normalisation's mean (to work on pixels in [0, 1]).
        std: The normalisation's standard deviation.
        generator: Source of the random draws; the global one if ``None``.
        margins: Also give some of the copies bright margins at their edges.

    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be in [0, 1], got {share}")
    if share == 0 or len(images) == 0:
        return images
    from kornia.filters import gaussian_blur2d  # only for batches that use it

    batch, device, dtype = len(images), images.device, images.dtype

    def draw(low: float, high: float) -> Tensor:  # (B, 1, 1, 1) in [low, high)
        values = torch.rand(batch, 1, 1, 1, device=device, dtype=dtype, generator=generator)
        return low + (high - low) * values

    pixels = (images * std + mean).clamp(0, 1)
    sigma = draw(0.3, 1.5).view(batch, 1).expand(batch, 2)
    blurred = gaussian_blur2d(pixels, (7, 7), sigma, border_type="constant")
    faded = blurred * draw(0.3, 1.0)
    grey = draw(0.0, 0.4)
    if margins:
        grey = (grey + _margins(images, draw)).clamp(max=0.9)  # the ink stays brighter
    noise = draw(0.0, 0.1) * torch.randn(
        images.shape, device=device, dtype=dtype, generator=generator
    )
    poorer = (faded + grey * (1 - faded) + noise).clamp(0, 1)
    chosen = draw(0.0, 1.0) < share
    return torch.where(chosen, (poorer - mean) / std, images)


def _margins(images: Tensor, draw: Callable[[float, float], Tensor]) -> Tensor:
    """Return bright margins for some of the images: ``(B, 1, H, W)``, 0 elsewhere.

    Each side of an image, independently with a chance of 1 in 4, gets a margin 3-10 pixels deep
    and 30-90% bright: the edge of the paper, a table or a shadow caught by a loose crop, which the
    network must learn to see past as it does the uniform grey.
    """
    batch, _, height, width = images.shape
    device, dtype = images.device, images.dtype
    rows = torch.arange(height, device=device, dtype=dtype).view(1, 1, height, 1)
    cols = torch.arange(width, device=device, dtype=dtype).view(1, 1, 1, width)
    margins = torch.zeros(batch, 1, height, width, device=device, dtype=dtype)
    for inward in (cols, width - 1 - cols, rows, height - 1 - rows):  # left, right, top, bottom
        on = draw(0.0, 1.0) < 0.25
        margin = (inward < draw(3.0, 10.0)) & on
        margins = torch.maximum(margins, margin.to(dtype) * draw(0.3, 0.9))
    return margins
