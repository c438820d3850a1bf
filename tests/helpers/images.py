"""Users' image files: a drawn "4" in many forms, files that are not usable, and mixed folders."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw


def stroke_digit(side: int = 200) -> Image.Image:
    """A hand-drawn-like "4" in thick light strokes on black (the MNIST look), ``side`` px."""
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    s = side / 200
    width = round(14 * s)
    draw.line([(120 * s, 30 * s), (50 * s, 120 * s), (150 * s, 120 * s)], fill=255, width=width)
    draw.line([(125 * s, 60 * s), (125 * s, 175 * s)], fill=255, width=width)
    return image


def dark_on_white() -> Image.Image:
    """The "4" of ``stroke_digit`` as ink on paper."""
    return Image.eval(stroke_digit(), lambda v: 255 - v)


def transparent_strokes(colour: tuple[int, int, int]) -> Image.Image:
    """The "4" in ``colour`` on a transparent background, as a browser canvas exports it."""
    image = Image.new("RGBA", (200, 200), (*colour, 0))
    image.putalpha(stroke_digit())
    return image


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def good_png() -> bytes:
    """The "4" as a PNG file's bytes."""
    buffer = io.BytesIO()
    dark_on_white().save(buffer, format="PNG")
    return buffer.getvalue()


BAD_FILES = {
    "empty.png": (b"", "empty file"),
    "truncated.png": (good_png()[:300], "cannot decode"),
    "notes.png": (b"these are my notes, not a picture\n", "not an image"),
    "bomb.png": (bomb_png(60_000, 60_000), "over the limit"),
}
"""Files named as images that cannot be used: ``name: (content, part of the reason given)``."""

GOOD: dict[str, Callable[[Path], None]] = {
    "ok/первый 1.png": lambda p: dark_on_white().save(p),
    "ok/two.jpg": lambda p: dark_on_white().convert("RGB").save(p, quality=90),
    "nested/deep/Three.BMP": lambda p: stroke_digit().save(p),
    "canvas.png": lambda p: transparent_strokes((0, 0, 0)).save(p),
}
"""The usable images of ``make_mixed_folder``: ``name: writer``."""

BAD = {
    **{name: reason for name, (_, reason) in BAD_FILES.items()},
    "blank.png": "no digit found",
}
"""The unusable images of ``make_mixed_folder``: ``name: part of the reason given``."""


def make_mixed_folder(root: Path) -> None:
    """Good images in nested folders, every kind of bad file, and files that are not images."""
    for name, write in GOOD.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write(root / name)
    for name, (content, _) in BAD_FILES.items():
        (root / name).write_bytes(content)
    Image.new("L", (100, 100), 255).save(root / "blank.png")
    (root / "readme.txt").write_text("my digits")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / ".thumbnails").mkdir()
    Image.new("L", (10, 10)).save(root / ".thumbnails" / "x.png")


def progressive_jpeg(side: int, repeats: int) -> bytes:
    """A progressive JPEG of a square on grey whose last scan is repeated ``repeats`` times.

    Each repeat is a few dozen bytes but costs the decoder a pass over the whole image.
    """
    image = Image.new("L", (side, side), 128)
    image.paste(255, (side // 4, side // 4, side // 2, side // 2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    last = data[data.rindex(b"\xff\xda") : -2]  # the last scan, up to the end marker
    return data[:-2] + last * repeats + b"\xff\xd9"
