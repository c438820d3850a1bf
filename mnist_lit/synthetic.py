"""Digits dressed as users' images, to test and measure the preprocessing against known labels.

    from mnist_lit.synthetic import on_paper
    photo = on_paper(mnist_digit, np.random.default_rng(0))  # RGB: dark ink on tinted paper

Each function takes an MNIST-style digit (28x28 uint8, light on black) or a digit to print, and
returns a Pillow image of the kind users bring: a photo or scan of paper, a browser canvas export
(strokes on a transparent background), or a printed digit in a font.
"""

from __future__ import annotations

from pathlib import Path

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


def fonts() -> list[Path]:
    """Return the DejaVu fonts installed on this machine (Sans, Serif, Mono and their styles)."""
    return sorted(FONT_DIR.glob("DejaVu*.ttf")) if FONT_DIR.is_dir() else []


def printed(digit: int, font: Path, size: int, angle: float) -> Image.Image:
    """Print ``digit`` in black on white in ``font`` at ``size`` pixels, turned by ``angle`` degrees.

    Args:
        digit: The digit to print, 0-9.
        font: A TrueType font file.
        size: Font size in pixels.
        angle: Rotation, counter-clockwise, in degrees; the corners are filled white.

    """
    face = ImageFont.truetype(str(font), size)
    image = Image.new("L", (3 * size, 3 * size), 255)
    ImageDraw.Draw(image).text((1.5 * size, 1.5 * size), str(digit), fill=0, font=face, anchor="mm")
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
