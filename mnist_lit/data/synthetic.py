"""Made-up data: digits dressed as users' images, and tiny MNIST files for tests and dry runs.

    from mnist_lit.data.synthetic import on_paper
    photo = on_paper(mnist_digit, np.random.default_rng(0))  # RGB: dark ink on tinted paper

``on_paper``, ``canvas`` and ``printed`` take an MNIST-style digit (28x28 uint8, light on black) or
a digit to print, and return a Pillow image of the kind users bring: a photo or scan of paper, a
browser canvas export (strokes on a transparent background), or a printed digit in a font.
``write_mnist_files`` writes a learnable stand-in for the four MNIST files, for runs that must not
need the real data (the test suite, ``--dry_run`` of the experiments).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""Where Debian and Ubuntu keep the DejaVu fonts (package fonts-dejavu-core/extra)."""


def on_paper(
    digit: np.ndarray,
    rng: np.random.Generator,
    scale: tuple[float, float] = (2.0, 6.0),
    noise: float = 6.0,
) -> Image.Image:
    """Draw ``digit`` in dark ink on tinted, unevenly lit, noisy paper, at a random size and place.

    Args:
        digit: ``(28, 28)`` uint8, light digit on black.
        rng: Source of every random choice.
        scale: Range of the digit's magnification (28 px times this).
        noise: Standard deviation of the pixel noise, in grey levels.

    Returns:
        An RGB image, between 1x and 2.5x the digit's size on each side.

    """
    size = round(28 * rng.uniform(*scale))
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC))
    height, width = (round(size * rng.uniform(1.0, 2.5)) for _ in range(2))
    top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
    alpha = np.zeros((height, width, 1), dtype=np.float32)
    alpha[top : top + size, left : left + size, 0] = ink / 255
    paper = rng.uniform(170, 250, size=3)  # a tint: each channel its own brightness
    light = 1 + rng.uniform(-0.2, 0.2) * np.linspace(-1, 1, width)[None, :, None]  # uneven light
    pen = rng.uniform(0, 80, size=3)  # black, blue or brown ink
    pixels = paper * light * (1 - alpha) + pen * alpha + rng.normal(0, noise, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def canvas(digit: np.ndarray, rng: np.random.Generator, side: int = 280) -> Image.Image:
    """Draw ``digit`` as a browser canvas exports it: opaque strokes on transparent black.

    Args:
        digit: ``(28, 28)`` uint8, light digit on black.
        rng: Chooses the digit's size and place and the stroke colour (black or another).
        side: Width and height of the canvas.

    Returns:
        An RGBA image whose colour channels are the stroke colour and alpha is the drawing.

    """
    size = round(side * rng.uniform(0.5, 0.9))
    strokes = Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC)
    alpha = Image.new("L", (side, side), 0)
    alpha.paste(
        strokes, (int(rng.integers(0, side - size + 1)), int(rng.integers(0, side - size + 1)))
    )
    colour = (
        (0, 0, 0) if rng.random() < 0.5 else tuple(int(c) for c in rng.integers(0, 256, size=3))
    )
    image = Image.new("RGBA", (side, side), (*colour, 0))
    image.putalpha(alpha)
    return image


INK = 64
"""A digit's pixels at least this bright (of 255) are its strokes, in ``WrittenNumber.columns``."""


class WrittenNumber(NamedTuple):
    """A number written by ``written_number``."""

    strip: np.ndarray
    """``(H, W)`` uint8: the number, light on black, with a margin of 4 pixels; the inks of
    overlapping digits combined by their maximum."""
    columns: np.ndarray
    """``(D, W)`` float32: how many pixels of each digit's strokes (at least ``INK``) each
    column holds."""


def written_number(
    digits: Sequence[np.ndarray],
    gap: float,
    rng: np.random.Generator,
    size: float = 0.15,
    baseline: float = 3.0,
) -> WrittenNumber:
    """Write MNIST-style digits side by side as one number; say where each digit's ink is.

    Args:
        digits: ``(28, 28)`` uint8 digits, light on black, in reading order.
        gap: Columns between one digit's ink and the next one's (at 28 px per digit); 0 puts
            their boxes side by side, a negative gap makes them overlap (strokes touch).
        rng: Chooses each digit's size and height on the line.
        size: Each digit is scaled by a random factor in ``1 ± size``.
        baseline: Each digit is moved up or down by up to this many pixels.

    Returns:
        The number, and each digit's ink per column.

    """
    pieces = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 0)
        ink = digit[:, cols[0] : cols[-1] + 1] if len(cols) else digit
        factor = 1 + rng.uniform(-size, size)
        shape = (max(1, round(ink.shape[1] * factor)), max(1, round(28 * factor)))
        scaled = np.asarray(Image.fromarray(ink).resize(shape, Image.Resampling.BILINEAR))
        pieces.append((scaled, round(rng.uniform(-baseline, baseline) + 14 * (1 - factor))))
    margin = 4 + round(baseline)
    height = max(p.shape[0] + offset for p, offset in pieces) + 2 * margin
    width = sum(p.shape[1] for p, _ in pieces) + round(gap * (len(pieces) - 1)) + 2 * margin
    strip = np.zeros((height, max(width, 2 * margin + 1)), dtype=np.uint8)
    left = float(margin)
    columns = np.zeros((len(pieces), strip.shape[1]), dtype=np.float32)
    for index, (piece, offset) in enumerate(pieces):
        top, column = margin + offset, round(left)
        region = strip[top : top + piece.shape[0], column : column + piece.shape[1]]
        np.maximum(region, piece[: region.shape[0], : region.shape[1]], out=region)
        strokes = piece[: region.shape[0], : region.shape[1]] >= INK
        columns[index, column : column + region.shape[1]] = strokes.sum(axis=0)
        left += piece.shape[1] + gap
    return WrittenNumber(strip, columns)


def photo(ink: np.ndarray, rng: np.random.Generator, light_on_dark: bool = False) -> Image.Image:
    """Dress an ink map (light on black, uint8, any shape) as a photo of paper or a drawing.

    Args:
        ink: ``(H, W)`` uint8, 255 = full ink.
        rng: Source of every random choice: magnification (2-4x), margins, tint, light, noise.
        light_on_dark: Light strokes on a dark, coloured background (a drawing app) instead of
            dark ink on tinted, unevenly lit paper (a photo).

    Returns:
        An RGB image.

    """
    factor = rng.uniform(2.0, 4.0)
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
    alpha = np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BICUBIC), np.float32)
    pad_y, pad_x = (int(rng.integers(4, 4 + side // 4)) for side in alpha.shape)
    padded = np.pad(alpha / 255, ((pad_y, pad_y), (pad_x, pad_x)))[..., None]  # (H, W, 1)
    height, width = padded.shape[:2]
    if light_on_dark:
        paper = rng.uniform(0, 60, size=3)
        pen = rng.uniform(190, 255, size=3)
        light = np.ones((1, width, 1))
    else:
        paper = rng.uniform(170, 250, size=3)
        pen = rng.uniform(0, 80, size=3)
        light = 1 + rng.uniform(-0.2, 0.2) * np.linspace(-1, 1, width)[None, :, None]
    noise = rng.normal(0, 6.0, (height, width, 3))
    pixels = paper * light * (1 - padded) + pen * padded + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def fonts() -> list[Path]:
    """Return the DejaVu fonts installed on this machine (Sans, Serif, Mono and their styles)."""
    return sorted(FONT_DIR.glob("DejaVu*.ttf")) if FONT_DIR.is_dir() else []


def printed(digit: int | str, font: Path, size: int, angle: float) -> Image.Image:
    """Print ``digit`` in black on white in ``font`` at ``size`` pixels, turned by ``angle`` degrees.

    Args:
        digit: The digit to print, 0-9 (or any short text, such as a letter).
        font: A TrueType font file.
        size: Font size in pixels.
        angle: Rotation, counter-clockwise, in degrees; the corners are filled white.

    """
    face = ImageFont.truetype(str(font), size)
    image = Image.new("L", (3 * size, 3 * size), 255)
    ImageDraw.Draw(image).text((1.5 * size, 1.5 * size), str(digit), fill=0, font=face, anchor="mm")
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)


def scribble(rng: np.random.Generator, side: int = 200) -> Image.Image:
    """Draw a scribble: one to three pen strokes wandering at random, black on white."""
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 4)):
        steps = rng.integers(8, 40)
        heading = rng.uniform(0, 2 * np.pi)
        point = rng.uniform(0.2, 0.8, size=2) * side
        points = [tuple(point)]
        for _ in range(steps):
            heading += rng.normal(0, 0.8)
            point = np.clip(
                point + side * 0.06 * np.array([np.cos(heading), np.sin(heading)]), 5, side - 5
            )
            points.append(tuple(point))
        draw.line(points, fill=0, width=int(rng.integers(side // 40, side // 12)), joint="curve")
    return image


SHAPES = ("square", "triangle", "star", "cross-hatch", "filled", "arrow", "smiley", "grid")
"""The kinds of ``shape``: none of them a digit's form (no circle, no single bar)."""


def shape(kind: str, rng: np.random.Generator, side: int = 200) -> Image.Image:
    """Draw a geometric shape of ``kind`` (one of ``SHAPES``), black on white, at random size."""
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    c, r = side / 2 + rng.uniform(-0.1, 0.1, 2) * side, side * rng.uniform(0.25, 0.4)
    width = int(rng.integers(side // 40, side // 15))
    turn = rng.uniform(0, 2 * np.pi)

    def polygon(corners: int, radii: list[float]) -> list[tuple[float, float]]:
        angles = turn + np.arange(corners) * 2 * np.pi / corners
        return [
            (c[0] + radius * np.cos(a), c[1] + radius * np.sin(a))
            for a, radius in zip(angles, radii * corners, strict=False)
        ]

    if kind == "square":
        draw.polygon(polygon(4, [r]), outline=0, width=width)
    elif kind == "triangle":
        draw.polygon(polygon(3, [r]), outline=0, width=width)
    elif kind == "star":
        draw.polygon(polygon(10, [r, r * 0.45]), outline=0, width=width)
    elif kind == "filled":
        draw.polygon(polygon(int(rng.integers(3, 7)), [r]), fill=0)
    elif kind == "cross-hatch":
        for offset in np.linspace(-r, r, int(rng.integers(4, 8))):
            draw.line([(c[0] - r, c[1] + offset), (c[0] + r, c[1] + offset)], fill=0, width=width)
            draw.line([(c[0] + offset, c[1] - r), (c[0] + offset, c[1] + r)], fill=0, width=width)
    elif kind == "arrow":
        tip, tail = (c[0] + r, c[1]), (c[0] - r, c[1])
        draw.line([tail, tip], fill=0, width=width)
        draw.line(
            [(tip[0] - r / 2, tip[1] - r / 2), tip, (tip[0] - r / 2, tip[1] + r / 2)],
            fill=0,
            width=width,
        )
        image = image.rotate(np.degrees(turn), fillcolor=255)
    elif kind == "smiley":
        box = [c[0] - r, c[1] - r, c[0] + r, c[1] + r]
        draw.ellipse(box, outline=0, width=width)
        for dx in (-r / 3, r / 3):
            draw.ellipse(
                [c[0] + dx - r / 10, c[1] - r / 3, c[0] + dx + r / 10, c[1] - r / 6], fill=0
            )
        draw.arc(
            [c[0] - r / 2, c[1] - r / 4, c[0] + r / 2, c[1] + r / 2], 20, 160, fill=0, width=width
        )
    elif kind == "grid":
        for x in np.linspace(c[0] - r, c[0] + r, 4):
            for y in np.linspace(c[1] - r, c[1] + r, 4):
                draw.ellipse([x - width, y - width, x + width, y + width], fill=0)
    else:
        raise ValueError(f"no shape {kind!r}; choose from {', '.join(SHAPES)}")
    return image


def make_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` learnable 28x28 uint8 "digits": class k is a bright square at its own place.

    Squares sit on a 5 x 2 grid with a random jitter of up to 2 pixels, over faint noise, so a
    small CNN tells them apart after a few epochs but not before training.

    Returns:
        ``(n, 28, 28)`` uint8 images and ``(n,)`` uint8 labels, each digit ``n / 10`` times.

    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        row, col = 3 + 12 * (label // 5), 1 + 5 * (label % 5)
        dy, dx = rng.integers(-2, 3, size=2)
        r, c = max(row + dy, 0), max(col + dx, 0)
        image[r : r + 8, c : c + 5] = 255
    return images, labels.astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format of the MNIST files."""
    magic = 0x0800 | array.ndim
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist_files(
    folder: Path, train: int = 600, test: int = 200, compress_test: bool = True
) -> dict[str, str]:
    """Write made-up digits (``make_digits``) as the four MNIST files, gzip-compressed.

    Args:
        folder: Where to write them (created); usable as ``--data.mirror``.
        train: Training images (seed 1).
        test: Test images (seed 2).
        compress_test: Write the test files gzip-compressed too (``False``: uncompressed, as some
            mirrors hold them).

    Returns:
        The MD5 of each file's uncompressed content, by name: what ``fetch.FILES`` must hold
        for ``fetch_mnist`` to accept these files in place of the real ones.

    """
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = make_digits(train, seed=1)
    test_images, test_labels = make_digits(test, seed=2)
    contents = {
        "train-images-idx3-ubyte": idx_bytes(train_images),
        "train-labels-idx1-ubyte": idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": idx_bytes(test_images),
        "t10k-labels-idx1-ubyte": idx_bytes(test_labels),
    }
    for name, content in contents.items():
        if name.startswith("train") or compress_test:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content, mtime=0))
        else:
            (folder / name).write_bytes(content)
    return {name: hashlib.md5(content).hexdigest() for name, content in contents.items()}
