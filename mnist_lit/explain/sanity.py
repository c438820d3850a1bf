"""Sanity checks of attribution maps, after Adebayo et al. (2018), "Sanity Checks for Saliency Maps".

    python -m pytest tests/explain/test_sanity.py      # both checks on real MNIST digits

A map worth showing passes two checks:

- **Randomisation**: it depends on what the network learned. Maps of the trained network and of
  the same network with every weight re-initialised (``randomised``) must rank the pixels
  differently: a low Spearman rank correlation (``rank_correlation``). A map that looks the same
  for a network that knows nothing (an edge detector) explains the image, not the model.
- **Deletion**: the pixels it ranks highest matter to the network. Painting them black must lower
  the probability of the predicted digit more than painting as many random pixels of the digit
  black (``deletion``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mnist_lit.errors import ConfigError


def randomised(net: nn.Module, seed: int = 0) -> nn.Module:
    """Return a copy of ``net`` with every layer's weights re-initialised (as when it was made).

    Args:
        net: The trained network; left unchanged.
        seed: Seed of the new weights.

    """
    copied = copy.deepcopy(net)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for module in copied.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
    finally:
        torch.random.set_rng_state(generator_state)
    return copied.eval()


def rank_correlation(first: Tensor, second: Tensor, where: Tensor | None = None) -> Tensor:
    """Return the Spearman rank correlation of each pair of maps: ``(B,)`` in [-1, 1].

    Maps are compared by the size of their values (``abs``), as in Adebayo et al.: which pixels
    matter, whatever their sign. Pass ``where`` the digit's pixels: on the black background
    Integrated Gradients and Occlusion are zero for any network, and those shared zeros alone
    would correlate the maps (0.99 for IG over the whole image). A constant map correlates 0.

    Args:
        first: ``(B, H, W)`` maps.
        second: ``(B, H, W)`` maps of the same images.
        where: ``(B, H, W)`` bool, the pixels to compare; default all.

    """
    if first.shape != second.shape:
        raise ConfigError(f"maps differ in shape: {tuple(first.shape)} and {tuple(second.shape)}")
    where = torch.ones_like(first, dtype=torch.bool) if where is None else where.bool()
    out = torch.zeros(len(first))
    for i, (a, b, keep) in enumerate(
        zip(first.flatten(1), second.flatten(1), where.flatten(1), strict=True)
    ):
        x, y = _ranks(a[keep].abs().double()), _ranks(b[keep].abs().double())
        x, y = x - x.mean(), y - y.mean()
        norm = float(x.norm() * y.norm())
        out[i] = float((x * y).sum()) / norm if norm > 0 else 0.0
    return out


def _ranks(values: Tensor) -> Tensor:
    """Ranks of a 1-D tensor, ties sharing the mean of their ranks."""
    order = values.argsort(stable=True)
    ranks = torch.empty_like(values)
    ranks[order] = torch.arange(len(values), dtype=values.dtype)
    _, inverse = torch.unique(values, return_inverse=True)
    sums = torch.zeros(len(values), dtype=values.dtype).index_add_(0, inverse, ranks)
    counts = torch.bincount(inverse, minlength=len(values)).to(values.dtype).clamp_min(1)
    return (sums / counts)[inverse]


@dataclass(frozen=True)
class Deletion:
    """How much the predicted digit's probability fell when pixels were painted black."""

    ranked: Tensor
    """``(B,)`` fall in probability with the digit's pixels the map ranks highest painted black."""
    random: Tensor
    """``(B,)`` mean fall with as many random pixels of the digit painted black."""


def deletion(
    net: nn.Module,
    images: Tensor,
    maps: Tensor,
    pixels: int,
    black: float,
    repeats: int = 8,
    seed: int = 0,
) -> Deletion:
    """Paint the digit's ``pixels`` highest-ranked pixels black, then as many random ones of it.

    Both choose among the digit's ink (pixels not black): painting a black pixel black changes
    nothing, so random pixels of the whole image (mostly background) would make any map look
    good, and a coarse map (Grad-CAM) would be charged for top pixels off the digit.

    Args:
        net: Maps normalised ``(B, 1, 28, 28)`` images to logits.
        images: ``(B, 1, 28, 28)`` normalised images.
        maps: ``(B, 28, 28)`` attribution maps for each image's predicted digit.
        pixels: How many pixels to paint black per image.
        black: A black pixel as the network sees it, ``(0 - mean) / std``.
        repeats: Random draws averaged per image.
        seed: Seed of the random draws.

    """
    if maps.shape[0] != images.shape[0] or maps[0].numel() != images[0].numel():
        raise ConfigError(f"one 28x28 map per image: {tuple(maps.shape)}, {tuple(images.shape)}")
    device = next(net.parameters()).device
    flat = images.detach().to(device).flatten(1)  # (B, 784)
    with torch.no_grad():
        probabilities: Tensor = net(images.to(device)).softmax(dim=1)
        predicted = probabilities.argmax(dim=1, keepdim=True)  # (B, 1)
        before = probabilities.gather(1, predicted)[:, 0]

        def fall(chosen: Tensor) -> Tensor:  # chosen: (B, k) pixel indices -> (B,) fall
            painted = flat.scatter(1, chosen, black).view_as(images)
            after: Tensor = net(painted).softmax(dim=1).gather(1, predicted)[:, 0]
            return (before - after).cpu()

        ink = flat > black + 1e-6  # (B, 784) the digit's pixels
        top = maps.to(device).flatten(1).masked_fill(~ink, -torch.inf).topk(pixels, dim=1)
        ranked = fall(top.indices)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        ink = ink.cpu()
        draws = []
        for _ in range(repeats):
            # random keys, ink first: the top ``pixels`` keys are random pixels of the digit
            keys = torch.rand(ink.shape, generator=generator) + ink.float()
            draws.append(fall(keys.topk(pixels, dim=1).indices.to(device)))
    return Deletion(ranked, torch.stack(draws).mean(dim=0))
