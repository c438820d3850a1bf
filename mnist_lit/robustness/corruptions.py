"""Seeded, deterministic image corruptions: MNIST-C's fifteen and five writer-style shifts.

    from mnist_lit.robustness.corruptions import corrupt
    noisy = corrupt(images, "shot_noise", seed=0)            # at MNIST-C's severity
    tilted = corrupt(images, "rotate", severity=5, seed=0)   # (N, 1, 28, 28) in [0, 1]

Every corruption takes and returns a batch of MNIST-style images, light digits on black, as floats
in [0, 1] of shape ``(N, 1, 28, 28)`` (before the network's normalisation), and draws every random
choice from a generator seeded by ``seed`` and its own name: the same call gives the same images on
any machine, whatever else ran before.

MNIST-C (Mu and Gilmer, 2019, arXiv:1906.02337) corrupts the test digits with fifteen
transformations, each at one severity picked so that the digit stays readable to people. They are
written here with PyTorch (and Kornia's Canny edge detector), on whole batches, from the paper's
descriptions and parameters; each has five severities where the paper has a scale, and MNIST-C's
choice is the default. Two are approximations of the originals, said where they are: ``fog`` draws
its fractal clouds as a sum of noise octaves rather than by the diamond-square algorithm, and
``motion_blur`` blurs along a one-sided Gaussian streak as ImageMagick does, by resampling.

The writer-style shifts make digits look as if other people wrote them with other pens: thinner
and thicker strokes, a slant, elastic wobble (Simard et al., 2003) and low resolution.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.filters import canny, gaussian_blur2d
from kornia.morphology import dilation, erosion
from torch import Tensor

from mnist_lit.constants import IMAGE_SIZE
from mnist_lit.errors import ConfigError

CENTRE = (IMAGE_SIZE - 1) / 2
"""The pixel coordinate of the image's centre (13.5), the fixed point of the affine corruptions."""

Transform = Callable[[Tensor, int, torch.Generator], Tensor]


@dataclass(frozen=True)
class Corruption:
    """One corruption: what it does, its severities and the one used by default.

    Args:
        name: Its name on the command line and in tables.
        family: ``mnist-c`` (Mu and Gilmer's fifteen) or ``writer`` (writer-style shifts).
        transform: ``transform(images, severity, generator)``.
        severities: How many severities it has (1 for those without a scale).
        default: The severity used unless one is asked for (MNIST-C's choice for its own).
        description: One line for ``--help`` and the report.

    """

    name: str
    family: str
    transform: Transform
    severities: int
    default: int
    description: str


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _signs(n: int, generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, (n,), generator=generator).float() * 2 - 1


def _blur(images: Tensor, sigma: float) -> Tensor:
    """Gaussian blur with edge pixels repeated, the kernel cut at 4 sigma (as scikit-image)."""
    size = 2 * math.ceil(4 * sigma) + 1
    return gaussian_blur2d(images, (size, size), (sigma, sigma), border_type="replicate")


def _warp(images: Tensor, matrices: Tensor, shifts: Tensor | None = None) -> Tensor:
    """Sample each image at ``matrix @ (p - centre) + centre + shift`` for each output pixel ``p``.

    ``matrices`` ``(N, 2, 2)`` and ``shifts`` ``(N, 2)`` are in pixels, in (x, y) order; outside
    the image is black; bilinear, as scikit-image's ``warp`` with ``order=1``.
    """
    theta = torch.zeros(len(images), 2, 3)
    theta[:, :, :2] = matrices
    if shifts is not None:
        theta[:, :, 2] = shifts / CENTRE
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def _level(values: tuple[float, ...], severity: int) -> float:
    return values[severity - 1]


# ---------------------------------------------------------------- MNIST-C: noise


def shot_noise(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Photon noise: each pixel a Poisson count of ``c`` times its brightness, divided by ``c``."""
    c = _level((60, 25, 12, 5, 3), severity)
    return (torch.poisson(images * c, generator=generator) / c).clamp(0, 1)


def impulse_noise(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Salt and pepper: a share of the pixels set to black or white, half each."""
    amount = _level((0.03, 0.06, 0.09, 0.17, 0.27), severity)
    hit = torch.rand(images.shape, generator=generator) < amount
    salt = torch.rand(images.shape, generator=generator) < 0.5
    return torch.where(hit, salt.float(), images)


# ---------------------------------------------------------------- MNIST-C: blur


def glass_blur(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Frosted glass: blur, swap pixels with random neighbours (sweeping up and left), blur again."""
    sigma, delta, rounds = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))[
        severity - 1
    ]
    pixels = (_blur(images, sigma) * 255).floor().squeeze(1)  # 8-bit, as the original
    n = len(pixels)
    rows = torch.arange(n)
    for _ in range(rounds):
        for h in range(IMAGE_SIZE - delta, delta, -1):
            for w in range(IMAGE_SIZE - delta, delta, -1):
                swap = torch.rand(n, generator=generator) < 0.5
                dx, dy = torch.randint(-delta, delta, (2, n), generator=generator)
                who = rows[swap]
                h2, w2 = h + dy[swap], w + dx[swap]
                here = pixels[who, h, w].clone()
                pixels[who, h, w] = pixels[who, h2, w2]
                pixels[who, h2, w2] = here
    return _blur(pixels.unsqueeze(1) / 255, sigma).clamp(0, 1)


def motion_blur(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Shake the camera: mix each pixel with those behind it along a random angle (±45°).

    The weights fall off as a Gaussian of the distance, on one side only, as ImageMagick's motion
    blur that MNIST-C uses (its ``radius`` steps, ``sigma`` pixels).
    """
    radius, sigma = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))[severity - 1]
    angle = torch.deg2rad(_uniform(len(images), -45, 45, generator))
    direction = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # (N, 2), x y
    eye = torch.eye(2).expand(len(images), 2, 2)
    total = torch.zeros_like(images)
    weights = 0.0
    for step in range(radius + 1):
        weight = math.exp(-(step**2) / (2 * sigma**2))
        total += weight * _warp(images, eye, -step * direction)
        weights += weight
    return (total / weights).clamp(0, 1)


# ---------------------------------------------------------------- MNIST-C: geometry


def shear(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Shear about the centre by an angle of ``c`` radians, to the left or right at random."""
    c = _level((0.2, 0.4, 0.6, 0.8, 1.0), severity) * _signs(len(images), generator)
    matrices = torch.zeros(len(images), 2, 2)
    matrices[:, 0, 0] = 1
    matrices[:, 0, 1] = -torch.sin(c)
    matrices[:, 1, 1] = torch.cos(c)
    return _warp(images, matrices).clamp(0, 1)


def scale(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Shrink the digit about the centre to 90% … 50% of its size."""
    factor = _level((0.9, 0.8, 0.7, 0.6, 0.5), severity)
    matrices = torch.eye(2).expand(len(images), 2, 2) / factor
    return _warp(images, matrices).clamp(0, 1)


def rotate(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Turn about the centre by ``c`` radians (0.4 is 23°), either way at random."""
    c = _level((0.2, 0.4, 0.6, 0.8, 1.0), severity) * _signs(len(images), generator)
    cos, sin = torch.cos(c), torch.sin(c)
    matrices = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    return _warp(images, matrices).clamp(0, 1)


def translate(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Move the digit ``c`` pixels across and ``c`` down or up, the directions at random."""
    c = _level((1, 2, 3, 4, 5), severity)
    shifts = c * torch.stack([_signs(len(images), generator) for _ in range(2)], dim=1)
    return _warp(images, torch.eye(2).expand(len(images), 2, 2), shifts).clamp(0, 1)


# ---------------------------------------------------------------- MNIST-C: light and weather


def brightness(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Raise every pixel's brightness (HSV value) by ``c``: a grey background."""
    return (images + _level((0.1, 0.2, 0.3, 0.4, 0.5), severity)).clamp(0, 1)


def stripe(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Invert the left and right quarters (7 columns each)."""
    out = images.clone()
    out[..., :7] = 1 - out[..., :7]
    out[..., -7:] = 1 - out[..., -7:]
    return out


def _clouds(n: int, decay: float, generator: torch.Generator) -> Tensor:
    """Fractal clouds in [0, 1], ``(N, 1, 28, 28)``: octaves of smooth noise, each ``decay`` times fainter.

    The 28x28 corner of a 256x256 fractal, as MNIST-C crops its plasma: the coarsest octaves
    vary little across it, the finest add the texture.
    """
    total = torch.zeros(n, 1, IMAGE_SIZE, IMAGE_SIZE)
    amplitude = 1.0
    for octave in range(8):  # cells of 256, 128, ..., 2 pixels
        cell = 256 / 2**octave
        points = math.ceil((IMAGE_SIZE - 1) / cell) + 1  # the grid points around the corner
        grid = torch.randn(n, 1, points, points, generator=generator)
        at = torch.arange(IMAGE_SIZE) / cell / (points - 1) * 2 - 1  # pixels in grid_sample's units
        where = torch.stack(torch.meshgrid(at, at, indexing="xy"), dim=-1).expand(n, -1, -1, -1)
        total += amplitude * F.grid_sample(grid, where, mode="bilinear", align_corners=True)
        amplitude /= decay
    # Scaled as the corner of a fractal normalised over its whole map: mostly mid-grey.
    spread = math.sqrt(sum(decay ** (-2 * k) for k in range(8)))
    return (0.5 + total / (4 * spread)).clamp(0, 1)


def fog(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Add ``c`` times fractal clouds, then scale back so the brightest ink keeps its share.

    An approximation of MNIST-C's: the clouds are octaves of noise (``_clouds``) rather than the
    diamond-square algorithm's plasma; the contrast lost is the same (``max / (max + c)``).
    """
    c, decay = ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))[severity - 1]
    peak = images.amax(dim=(1, 2, 3), keepdim=True)
    out = images + c * _clouds(len(images), decay, generator)
    return (out * peak / (peak + c)).clamp(0, 1)


def spatter(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Mud: blobs of grey (63 of 255) where smoothed noise runs high, covering the digit."""
    loc, spread, sigma, threshold, soften, _ = (
        (0.65, 0.3, 4, 0.69, 0.6, 0),
        (0.65, 0.3, 3, 0.68, 0.6, 0),
        (0.65, 0.3, 2, 0.68, 0.5, 0),
        (0.65, 0.3, 1, 0.65, 1.5, 1),
        (0.67, 0.4, 1, 0.65, 1.5, 1),
    )[severity - 1]
    liquid = loc + spread * torch.randn(images.shape, generator=generator)
    liquid = _blur(liquid, sigma)
    mask = _blur((liquid > threshold).float(), soften)
    mask = torch.where(mask < 0.8, torch.zeros_like(mask), mask)
    return (images * (1 - mask) + 63 / 255 * mask).clamp(0, 1)


# ---------------------------------------------------------------- MNIST-C: lines and edges


def _lines(starts: Tensor, ends: Tensor) -> Tensor:
    """Draw line segments ``(N, K, 2)`` (column, row) as MNIST-C draws its lines: ``(N, 1, 28, 28)``.

    A pixel's ink falls with its vertical distance ``d`` to the segment's line as
    ``1 + log(1 - d / 2.3)``, clipped to [0, 1], between the segment's first and last column.
    The segments' ink adds up, clipped to 1.
    """
    grid = torch.arange(IMAGE_SIZE, dtype=torch.float32)
    cols, rows = grid.view(1, 1, 1, -1), grid.view(1, 1, -1, 1)
    c0, r0 = starts[..., 0, None, None], starts[..., 1, None, None]
    c1, r1 = ends[..., 0, None, None], ends[..., 1, None, None]
    vertical = c1 == c0
    slope = (r1 - r0) / torch.where(vertical, torch.ones_like(c1), c1 - c0)
    distance = (rows - (slope * (cols - c0) + r0)).abs().clamp(max=2.3 - 1e-6)
    ink = (1 + torch.log(1 - distance / 2.3)).clamp(0, 1)
    inside = (cols >= c0.floor()) & (cols < c1.ceil()) & ~vertical
    return (ink * inside).sum(dim=1, keepdim=True).clamp(0, 1)


def dotted_line(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Draw a dotted line across the image, from a random row on the left to one on the right."""
    n = len(images)
    r0, r1 = torch.randint(0, IMAGE_SIZE - 1, (2, n), generator=generator).float()
    starts = torch.stack([torch.zeros(n), r0], dim=1)[:, None]
    ends = torch.stack([torch.full((n,), IMAGE_SIZE - 1.0), r1], dim=1)[:, None]
    line = _lines(starts, ends)
    dashes = (torch.arange(IMAGE_SIZE) // 2) % 2 == 1  # 2 columns on, 2 off
    return (images + line * dashes).clamp(0, 1)


def zigzag(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Draw a zigzag across the image (teeth 2 pixels long and high), at a random height and tilt."""
    n = len(images)
    tooth = 2.0
    left, right = 2.0, 25.0
    r0 = torch.randint(0, IMAGE_SIZE - 1, (n,), generator=generator).float()
    r1 = r0 + torch.randint(-5, 5, (n,), generator=generator).float()
    theta = torch.atan((r1 - r0) / (right - left))
    length = (right - left) / torch.cos(theta)
    # Corners along the line before turning it: (0, 0), then one every tooth, up and down.
    teeth = int((right - left - tooth) // (2 * tooth)) + 1  # 6 for every tilt drawn here
    along = [torch.zeros(n)] + [torch.full((n,), (2 * i + 1) * tooth) for i in range(teeth)]
    across = [torch.zeros(n)] + [torch.full((n,), (-1) ** i * tooth) for i in range(teeth)]
    last_full = 2 * tooth * torch.floor(length / (2 * tooth))
    along.append(length)
    across.append(across[-1] / (2 * (length - last_full)).clamp(min=1e-6))
    c, r = torch.stack(along, dim=1), torch.stack(across, dim=1)  # (N, K+1)
    cos, sin = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    cols, rows = cos * c - sin * r + left, sin * c + cos * r + r0[:, None]
    corners = torch.stack([cols, rows], dim=2)
    return (images + _lines(corners[:, :-1], corners[:, 1:])).clamp(0, 1)


def canny_edges(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Only the digit's outline: Canny edges (Gaussian sigma 1, thresholds 0.1 and 0.2)."""
    _, edges = canny(images, low_threshold=0.1, high_threshold=0.2, sigma=(1.0, 1.0))
    return edges.float()


# ---------------------------------------------------------------- writer-style shifts


def _morphology(images: Tensor, severity: int, grow: bool) -> Tensor:
    """Grow or thin the strokes by half a pixel per severity, at twice the resolution."""
    large = F.interpolate(images, scale_factor=2, mode="bilinear", align_corners=False)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    for _ in range(severity):
        large = dilation(large, kernel) if grow else erosion(large, kernel)
    return F.avg_pool2d(large, 2).clamp(0, 1)


def thin(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Thinner strokes (a finer pen): half a pixel off each side per severity."""
    return _morphology(images, severity, grow=False)


def thick(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Thicker strokes (a broader pen or marker): half a pixel on each side per severity."""
    return _morphology(images, severity, grow=True)


def slant(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Italic or back-slanted writing: a horizontal shear of 0.1 … 0.5 (6° … 27°), either way."""
    k = _level((0.1, 0.2, 0.3, 0.4, 0.5), severity) * _signs(len(images), generator)
    matrices = torch.eye(2).repeat(len(images), 1, 1)
    matrices[:, 0, 1] = k
    return _warp(images, matrices).clamp(0, 1)


def elastic(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Wobbly strokes: Simard et al.'s elastic distortion (sigma 4 px; alpha 34 at severity 4)."""
    alpha = _level((10, 20, 27, 34, 42), severity)
    noise = torch.rand(len(images), 2, IMAGE_SIZE, IMAGE_SIZE, generator=generator) * 2 - 1
    field = gaussian_blur2d(noise, (25, 25), (4.0, 4.0), border_type="constant") * alpha
    grid = torch.stack(
        torch.meshgrid(torch.arange(IMAGE_SIZE), torch.arange(IMAGE_SIZE), indexing="xy"), dim=-1
    ).float()
    sample = (grid + field.permute(0, 2, 3, 1)) / CENTRE - 1  # pixels -> [-1, 1]
    return F.grid_sample(images, sample, mode="bilinear", align_corners=True).clamp(0, 1)


def low_resolution(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Scan small or blurry: shrink to 20 … 10 pixels a side, enlarge back (bilinear)."""
    side = int(_level((20, 16, 14, 12, 10), severity))
    small = F.interpolate(images, size=(side, side), mode="area")
    return F.interpolate(small, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear").clamp(0, 1)


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("shot_noise", "mnist-c", shot_noise, 5, 5, "photon (Poisson) noise"),
        Corruption("impulse_noise", "mnist-c", impulse_noise, 5, 4, "salt-and-pepper pixels"),
        Corruption("glass_blur", "mnist-c", glass_blur, 5, 1, "blur through frosted glass"),
        Corruption("motion_blur", "mnist-c", motion_blur, 5, 1, "camera shake at a random angle"),
        Corruption("shear", "mnist-c", shear, 5, 2, "sheared about the centre"),
        Corruption("scale", "mnist-c", scale, 5, 3, "shrunk about the centre"),
        Corruption("rotate", "mnist-c", rotate, 5, 2, "turned about the centre"),
        Corruption("brightness", "mnist-c", brightness, 5, 5, "a grey background"),
        Corruption("translate", "mnist-c", translate, 5, 3, "moved off centre"),
        Corruption("stripe", "mnist-c", stripe, 1, 1, "left and right quarters inverted"),
        Corruption("fog", "mnist-c", fog, 5, 5, "fractal clouds, contrast lost"),
        Corruption("spatter", "mnist-c", spatter, 5, 4, "blobs of mud"),
        Corruption("dotted_line", "mnist-c", dotted_line, 1, 1, "a dotted line across"),
        Corruption("zigzag", "mnist-c", zigzag, 1, 1, "a zigzag line across"),
        Corruption("canny_edges", "mnist-c", canny_edges, 1, 1, "outlines only"),
        Corruption("thin", "writer", thin, 5, 1, "thinner strokes"),
        Corruption("thick", "writer", thick, 5, 2, "thicker strokes"),
        Corruption("slant", "writer", slant, 5, 3, "slanted writing"),
        Corruption("elastic", "writer", elastic, 5, 4, "wobbly strokes"),
        Corruption("low_resolution", "writer", low_resolution, 5, 3, "downsampled and enlarged"),
    )
}
"""Every corruption by name, MNIST-C's fifteen first, in the paper's order."""


def parse_spec(spec: str) -> tuple[Corruption, int]:
    """Turn ``name`` or ``name:severity`` into the corruption and its severity.

    Raises:
        ConfigError: No corruption of that name, or no such severity; the message lists them.

    """
    name, _, level = spec.partition(":")
    corruption = CORRUPTIONS.get(name.strip())
    if corruption is None:
        raise ConfigError(
            f"no corruption named {name!r}; choose from {', '.join(CORRUPTIONS)} "
            "(optionally name:severity, e.g. rotate:5)"
        )
    if not level:
        return corruption, corruption.default
    try:
        severity = int(level)
    except ValueError:
        severity = 0
    if not 1 <= severity <= corruption.severities:
        levels = (
            "has one severity (1)"
            if corruption.severities == 1
            else f"has severities 1 to {corruption.severities}"
        )
        raise ConfigError(f"{corruption.name} {levels}; got {level!r}")
    return corruption, severity


def generator_for(name: str, severity: int, seed: int) -> torch.Generator:
    """Return a generator seeded by ``seed``, the corruption's name and severity (order-independent)."""
    digest = hashlib.sha256(f"{seed}:{name}:{severity}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


def corrupt(images: Tensor, name: str, severity: int | None = None, seed: int = 0) -> Tensor:
    """Return ``images`` ``(N, 1, 28, 28)`` in [0, 1] corrupted by ``name`` (CPU, float32).

    Args:
        images: Light digits on black, floats in [0, 1].
        name: A key of ``CORRUPTIONS``.
        severity: 1 (mildest) to the corruption's ``severities``; ``None``: its default.
        seed: The same seed gives the same corrupted images.

    Raises:
        ConfigError: An unknown name or severity.

    """
    corruption, level = parse_spec(name if severity is None else f"{name}:{severity}")
    if images.ndim != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise ConfigError(f"images must be (N, 1, 28, 28), got {tuple(images.shape)}")
    generator = generator_for(corruption.name, level, seed)
    with torch.no_grad():
        return corruption.transform(images.float().cpu(), level, generator).contiguous()
