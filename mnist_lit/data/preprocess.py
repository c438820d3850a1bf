"""Turn any image of a digit into what MNIST looks like: a light digit on black, centred, 28x28.

    from mnist_lit.data.preprocess import load_digit
    pixels = load_digit("photo.jpg")  # (28, 28) uint8, ready for normalize()

MNIST digits were made by scaling each digit's bounding box to fit 20x20 (keeping its aspect ratio)
and placing it in 28x28 so that its centre of mass is at the centre. A photo, scan or canvas
drawing fed to the network as a plain resize scores near chance; this module repeats MNIST's
recipe on it, after undoing what differs in users' images:

1. decode within a budget (format, pixels, memory by mode, a JPEG's scans, time), reduce at once,
   apply the EXIF orientation, take the first frame;
2. flatten every Pillow mode to grey levels in [0, 1]; transparent areas take a colour that sets
   the opaque part apart (canvas strokes) or continues it (a photo with transparent corners);
3. estimate the paper as a smooth surface (a robust quadratic fit), so uneven lighting and tinted
   paper do not become ink, and subtract it; the side the far-off pixels lie on is the ink, so
   dark-on-light and light-on-dark both work; noise below a few standard deviations is dropped;
4. drop specks much smaller than the digit; if the digit is small in a large picture, repeat 3
   on a detailed crop around it;
5. crop to the digit (leaving out its faint halo), scale it to fit 20x20, brighten its strongest
   stroke to white, and place it by its centre of mass.

The network's normalisation (``mean``/``std``) is applied afterwards, by ``normalize``, once the
images are a batch on their device.
"""

from __future__ import annotations

import math
import mmap
import re
import time
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError
from scipy import ndimage
from torch import Tensor

from mnist_lit.constants import IMAGE_SIZE, MEAN, STD
from mnist_lit.errors import DataError

DIGIT_BOX = 20
"""Side of the box the digit's bounding box is scaled to fit, as in MNIST."""

CENTRE = 14.0
"""Row and column of the centre of mass of MNIST digits (the mean over the test set is 13.99, 14.01)."""

MAX_PIXELS = 64_000_000
"""Default pixel limit: a 50-megapixel photo passes, a decompression bomb does not."""

WORK_SIZE = 160
"""Longest side at which the paper and the ink are found; larger images are reduced to it first."""

DETAIL_SIZE = 1024
"""Longest side kept of large images, to look again at a digit that is small in the picture."""

MIN_CONTRAST = 0.1
"""Ink must differ from the paper by this much (of the full grey range) beyond the noise."""

NOISE_FLOOR = 0.03
"""Residuals below this (about 8 grey levels) are never ink, even in a noiseless image."""

SPECK_FRACTION = 0.02
"""Connected ink regions lighter than this fraction of the heaviest one are dropped as specks."""

BOX_INK = 0.2
"""The digit's box holds the pixels with at least this fraction of the strongest ink: a faint halo
(blur, JPEG ringing, a soft pen's edge) does not make the box larger and the digit smaller."""

MAX_SECONDS = 10.0
"""Default time limit for decoding one file (a decode bomb stops here, a photo takes < 0.1 s)."""

MAX_SCANS = 100
"""Most scans a JPEG may have. Progressive JPEGs have about 10; each scan costs a pass over the
whole image, so a file repeating one scan thousands of times decodes for minutes."""

MAX_SCAN_PIXELS = 2_000_000_000
"""Most scans x pixels a JPEG may have: about 3 s of decoding (a 64-megapixel JPEG with 90 scans
took 8 s on an AMD EPYC); a 50-megapixel photo may have 40 scans, a 12-megapixel one 100."""

CHUNK = 16 * 1024
"""Bytes Pillow's decoders are fed at a time: the time limit is checked between chunks."""

JPEG_CHUNK = 128
"""``CHUNK`` for JPEGs. A progressive JPEG's scan can be a few dozen bytes that cost a pass over
the whole image: with 16 KiB, a 68 KB JPEG of 90 scans was read in the first 22% of its 1.4 s
decode (AMD EPYC), so the limit fired late or never; with 128 bytes, a limit of a third of that
stopped it 0.03 s after. A 12-megapixel photo decodes as fast either way."""

BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
"""Memory a decoded pixel takes in Pillow, by mode; every other mode takes 4 bytes (RGB too)."""

READ_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
FORMAT_NAMES = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WebP", "PPM/PGM/PBM")
"""The image formats read (Pillow's names; JPEG covers MPO, phones' JPEGs with previews).
Others Pillow knows are refused before decoding: EPS and PDF run Ghostscript, ICO and ICNS decode
before their size can be checked, and none of them holds a photo or a scan of a digit."""

_HIGH_DEPTH_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa")


class ImageError(DataError):
    """One image cannot be turned into a digit; the message says why (one line)."""


def load_digit(
    path: str | Path, max_pixels: int = MAX_PIXELS, max_seconds: float = MAX_SECONDS
) -> np.ndarray:
    """Read an image file and return it as an MNIST-like digit.

    Args:
        path: A PNG, JPEG, BMP, GIF, TIFF, WebP or PPM/PGM/PBM file (``READ_FORMATS``),
            whatever its name says.
        max_pixels: Refuse images with more pixels than this before decoding them.
        max_seconds: Stop decoding after this long.

    Returns:
        ``(28, 28)`` uint8 array, 0 = background, 255 = the strongest ink.

    Raises:
        ImageError: The file is empty, not an image, truncated, over its budget or holds no
            digit.

    """
    return preprocess(open_image(path, max_pixels, max_seconds))


def open_image(
    path: str | Path,
    max_pixels: int = MAX_PIXELS,
    max_seconds: float = MAX_SECONDS,
    keep_pixels: int | None = None,
) -> Image.Image:
    """Decode an image file within a budget; return it at most ``DETAIL_SIZE`` on its longest side.

    ``keep_pixels`` reduces it to at most that many pixels instead, keeping its aspect ratio (a
    long strip of digits keeps its height).

    The budget, checked before decoding from the file's header: the format (``READ_FORMATS``),
    ``max_pixels``, the memory decoding takes (by mode, ``BYTES_PER_PIXEL``; at most as much as
    ``max_pixels`` pixels of 4 bytes), the file's size (as much) and a JPEG's scans
    (``MAX_SCANS``); while decoding, ``max_seconds``. The image is reduced as soon as it is
    decoded, so no full-size copy of it is ever made.

    Raises:
        ImageError: The file is empty, not an image of a format read, damaged or over budget.

    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ImageError("empty file")
    if size > 4 * max_pixels:
        raise ImageError(f"file of {_mb(size)} is over the limit of {_mb(4 * max_pixels)}")
    with warnings.catch_warnings():  # Pillow warns about odd but readable files: we read them
        warnings.simplefilter("ignore")
        with path.open("rb") as file:
            timed = _TimedFile(file, max_seconds)
            image = _open(timed, max_pixels)
            try:
                image.decodermaxblock = JPEG_CHUNK if image.format == "JPEG" else CHUNK  # its reads
                return _decode(image, keep_pixels)
            finally:
                image.close()


def _open(file: _TimedFile, max_pixels: int) -> ImageFile.ImageFile:
    """Read ``file``'s header: its format, size and mode, checked against the budget."""
    try:
        image = Image.open(file, formats=READ_FORMATS)  # type: ignore[arg-type]  # file-like
    except UnidentifiedImageError:
        raise ImageError(
            f"not an image of a format read here ({', '.join(FORMAT_NAMES)})"
        ) from None
    except ImageError:  # out of time while reading the header
        raise
    except Image.DecompressionBombError as err:  # beyond twice Pillow's own limit
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise ImageError(f"over the limit of Pillow ({limit:.0f} megapixels): {err}") from None
    except Exception as err:  # a decoder's own error on a damaged header: one line, not a traceback
        raise ImageError(f"cannot decode: {_reason(err)}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{width}x{height} pixels is over the limit of {max_pixels:,} (decompression bomb?); "
            "raise max_pixels if the image is genuine (up to Pillow's own limit, ~179 megapixels)"
        )
    if width == 0 or height == 0:
        raise ImageError(f"image of size {width}x{height}")
    if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that is still large
        _check_scans(file.raw, min(MAX_SCANS, MAX_SCAN_PIXELS // (width * height)))
        file.start()  # counting is not decoding
        image.draft("L" if image.mode == "L" else "RGB", (DETAIL_SIZE, DETAIL_SIZE))
    need = decode_bytes(image)
    if need > 4 * max_pixels:
        raise ImageError(
            f"decoding needs {_mb(need)} ({image.width}x{image.height} pixels, mode "
            f"{image.mode}), over the limit of {_mb(4 * max_pixels)}"
        )
    return image


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:,.0f} MB"


def decode_bytes(image: Image.Image) -> int:
    """Memory that decoding ``image`` (opened, not yet loaded) takes at its peak, in bytes.

    The decoded pixels (``BYTES_PER_PIXEL``); a palette or 1-bit image also gets a grey or RGBA
    copy before it is reduced, and an image with alpha a copy premultiplied by it while reduced.
    """
    pixels = image.width * image.height
    mode = image.mode
    need = pixels * BYTES_PER_PIXEL.get(mode, 4)
    if mode in _CONVERT_FIRST:
        mode = _CONVERT_FIRST[mode]
        need += pixels * BYTES_PER_PIXEL.get(mode, 4)
    if mode in ("RGBA", "LA") and max(image.size) > DETAIL_SIZE:
        need += pixels * 4
    return need


_CONVERT_FIRST = {"1": "L", "P": "RGBA", "PA": "RGBA"}
"""Modes that are converted before being reduced (Pillow resizes them by nearest neighbour)."""

_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""How each EXIF orientation is turned upright, as ``ImageOps.exif_transpose`` does; applied to
the reduced image, because turning the full-size one would copy it."""


def _decode(image: Image.Image, keep_pixels: int | None = None) -> Image.Image:
    """Decode the (first frame of the) image, reduce it and turn it upright (EXIF orientation).

    Reduced to ``DETAIL_SIZE`` on its longest side, or to ``keep_pixels`` pixels if given.
    """
    try:
        image.load()
        try:
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        except Exception:  # a damaged EXIF block: the image as stored
            orientation = 1
        if image.mode in _CONVERT_FIRST:
            mode = _CONVERT_FIRST[image.mode]
            if image.mode == "P" and "transparency" not in image.info:
                mode = "L"
            image = image.convert(mode)
        limit = DETAIL_SIZE
        if keep_pixels is not None:
            width, height = image.size
            limit = max(width, height)
            if width * height > keep_pixels:
                limit = max(1, int(limit * math.sqrt(keep_pixels / (width * height))))
        reduced = _reduce_image(image, limit)
        if orientation in _UPRIGHT:
            reduced = reduced.transpose(_UPRIGHT[orientation])
        reduced.load()
    except ImageError:  # out of time
        raise
    except Exception as err:  # Pillow's decoders raise many kinds on damaged data
        raise ImageError(f"cannot decode: {_reason(err)}") from None
    return reduced if reduced is not image else image.copy()


class _TimedFile:
    """A file whose reads fail once ``seconds`` have passed since ``start``.

    A time limit on Pillow's decoders, which read the file in chunks between their work; it
    works in any thread, unlike signals.
    """

    def __init__(self, file: BinaryIO, seconds: float) -> None:
        self.raw = file
        self.seconds = seconds
        self.start()

    def start(self) -> None:
        """Start the clock (again)."""
        self._deadline = time.monotonic() + self.seconds

    def read(self, size: int = -1) -> bytes:
        """Read like a file, or raise ``ImageError`` when the time is up."""
        if time.monotonic() > self._deadline:
            raise ImageError(f"decoding took over {self.seconds:g} s (a decode bomb?)")
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move like a file."""
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        """Position like a file."""
        return self.raw.tell()


_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""A JPEG marker after entropy-coded data (where 0xff is followed by 0, or a restart marker)."""


def _check_scans(file: BinaryIO, limit: int) -> None:
    """Count the scans (SOS markers) of a JPEG's first image without decoding it."""
    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        scans, position, end = 0, 2, len(data)
        while position + 4 <= end and data[position] == 0xFF:
            marker = data[position + 1]
            if marker == 0xFF:  # fill byte
                position += 1
                continue
            if marker == 0xD9:  # end of the first image
                break
            if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
                position += 2
                continue
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
            if marker == 0xDA:
                scans += 1
                if scans > limit:
                    raise ImageError(
                        f"a JPEG with more than {limit} scans at its size (a decode bomb?): "
                        "not decoded"
                    )
                found = _MARKER.search(data, position)
                if found is None:
                    break
                position = found.start()


def _reason(err: Exception) -> str:
    """Return a decoder's error as one line: its message, with its kind unless an OSError."""
    message = " ".join(str(err).split())
    if isinstance(err, OSError) and message:
        return message
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def preprocess(image: Image.Image) -> np.ndarray:
    """Turn a decoded image of one digit into an MNIST-like ``(28, 28)`` uint8 array.

    Args:
        image: Any Pillow image: modes L, RGB, RGBA, LA, P (with transparency), I;16, I, F,
            CMYK, 1, ...; dark ink on light paper or light on dark; any size.

    Raises:
        ImageError: No ink stands out from the background (a blank or nearly uniform image).

    """
    if image.width == 0 or image.height == 0:
        raise ImageError(f"image of size {image.width}x{image.height}")
    try:
        grey = grey_levels(
            image
        )  # (H, W) float32 in [0, 1], at most DETAIL_SIZE on its longest side
    except ValueError as err:  # a mode Pillow cannot convert
        raise ImageError(f"unsupported colour mode {image.mode}: {err}") from None
    work, scale = shrink(grey, WORK_SIZE)
    ink = drop_specks(find_ink(work))  # (h, w) >= 0, 0 = background
    top, bottom, left, right = _bounds(ink)
    side = max(bottom - top, right - left)
    if scale < 1 and side < WORK_SIZE // 3:
        # A small digit in a large picture: look again at it and its surroundings in detail.
        rows = slice(max(0, int((top - side) / scale)), int((bottom + side) / scale) + 1)
        cols = slice(max(0, int((left - side) / scale)), int((right + side) / scale) + 1)
        ink = drop_specks(find_ink(shrink(grey[rows, cols], WORK_SIZE)[0]))
    return _place(_crop(ink))


def grey_levels(image: Image.Image, limit: int = DETAIL_SIZE) -> np.ndarray:
    """Grey levels in [0, 1] of ``image`` (at most ``limit`` on its longest side), transparency flattened.

    Raises:
        ValueError: A mode Pillow cannot convert.

    """
    if image.mode in _HIGH_DEPTH_MODES:
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0, posinf=0, neginf=0)
        if values.min(initial=0.0) < 0 or values.max(initial=0.0) > 65535:
            # signed or offset 32-bit images; halved first, so that float32 extremes (a float
            # TIFF's +-3.4e38) do not overflow into infinity and NaN
            values *= 0.5
            values -= values.min()
        top = float(values.max(initial=0.0))
        # the smallest usual range that holds the values: 8-, 10-, 12- or 16-bit, else their own
        scale = next((r for r in (1.0, 255.0, 1023.0, 4095.0, 65535.0) if top <= r), top)
        return np.asarray(_reduce_image(Image.fromarray(values / scale), limit), dtype=np.float32)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        la = _reduce_image(image.convert("RGBA").convert("LA"), limit)
        grey_alpha = np.asarray(la, dtype=np.float32) / 255  # (H, W, 2)
        return _flatten_alpha(grey_alpha[..., 0], grey_alpha[..., 1])
    return np.asarray(_reduce_image(image.convert("L"), limit), dtype=np.float32) / 255


def _reduce_image(image: Image.Image, limit: int = DETAIL_SIZE) -> Image.Image:
    """Shrink ``image`` (area averaging) so that its longest side is at most ``limit``."""
    width, height = image.size
    scale = limit / max(width, height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BOX)


def shrink(grey: np.ndarray, limit: int) -> tuple[np.ndarray, float]:
    """``grey`` shrunk to at most ``limit`` on its longest side, and the scale applied (<= 1)."""
    scale = min(1.0, limit / max(grey.shape))
    if scale == 1:
        return grey, scale
    image = _reduce_image(Image.fromarray(np.ascontiguousarray(grey, dtype=np.float32)), limit)
    return np.asarray(image, dtype=np.float32), scale


def _flatten_alpha(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite over a background chosen from what the opaque pixels are.

    Few opaque pixels (a canvas export: strokes on a transparent background) are the drawing: the
    background takes the opposite extreme of their colour, so black strokes on transparent black
    still show. Mostly opaque pixels are the paper: holes take the paper's colour.
    """
    if alpha.min() > 0.98:
        return grey
    opaque = alpha > 0.5
    if not opaque.any():
        opaque = alpha > 0
    if not opaque.any():  # fully transparent: nothing drawn
        return np.zeros_like(grey)
    drawn = float(np.median(grey[opaque]))
    strokes = opaque.mean() < 0.5
    background = (1.0 if drawn < 0.5 else 0.0) if strokes else drawn
    flat: np.ndarray = alpha * grey + (1 - alpha) * background
    return flat


def find_ink(grey: np.ndarray) -> np.ndarray:
    """Ink strength per pixel: distance from the fitted paper, on the side the digit lies on.

    Raises:
        ImageError: No ink stands out from the paper.

    """
    background, noise = _background(grey)
    residual = grey - background
    threshold = max(4 * noise, NOISE_FLOOR)
    light = np.clip(residual - threshold, 0, None)  # light ink on dark paper (MNIST)
    dark = np.clip(-residual - threshold, 0, None)  # dark ink on light paper (most photos)
    ink: np.ndarray = light if light.sum() >= dark.sum() else dark
    if ink.max(initial=0.0) < MIN_CONTRAST or np.count_nonzero(ink) < 2:
        raise ImageError("no digit found: the image is blank or has too little contrast")
    return ink


def _background(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit the paper as a smooth surface, ignoring the ink; return it and the noise's std.

    Starting from the grey level of the image's edge (paper, even when a bold digit covers
    most of the image), a quadratic in x and y (a constant for small images) is fitted by least
    squares to the sample points near the current surface (within 3 robust standard deviations;
    at most 48 x 48 points), until the set of points stops changing: the ink, far from the
    paper, never pulls the fit.
    """
    edge = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    level = float(np.median(edge))
    edge_sigma = 1.4826 * float(np.median(np.abs(edge - level)))
    if edge_sigma < 1e-3:
        # A flat paper (a canvas, an MNIST export, a clean scan): nothing to fit.
        return np.full_like(grey, level), 0.0
    height, width = grey.shape
    step = max(1, max(height, width) // 48)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ys, xs = ys / max(height - 1, 1) * 2 - 1, xs / max(width - 1, 1) * 2 - 1  # [-1, 1]
    terms = [np.ones_like(xs)]
    if min(height, width) >= 24:
        terms += [xs, ys, xs * xs, xs * ys, ys * ys]
    design = np.stack(terms, axis=-1)  # (H, W, T)
    sample_design = design[::step, ::step].reshape(-1, len(terms))
    sample = grey[::step, ::step].reshape(-1)
    # Start from the edge's level and spread, then fit the surface to the points near it.
    coef = np.zeros(len(terms), dtype=np.float32)
    coef[0] = level
    centre, sigma = 0.0, edge_sigma
    inliers = np.zeros(len(sample), dtype=bool)
    for _ in range(6):
        residual = sample - sample_design @ coef
        keep = np.abs(residual - centre) <= max(3 * sigma, 0.02)
        if keep.sum() < 3 * len(terms) or np.array_equal(keep, inliers):
            break
        inliers = keep
        coef = np.linalg.lstsq(sample_design[inliers], sample[inliers], rcond=None)[0]
        residual = sample[inliers] - sample_design[inliers] @ coef
        centre = float(np.median(residual))
        sigma = 1.4826 * float(np.median(np.abs(residual - centre)))
    return design @ coef, sigma


def drop_specks(ink: np.ndarray) -> np.ndarray:
    """Remove connected ink regions far lighter than the heaviest one (noise, dust)."""
    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return ink
    mass = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], mass >= SPECK_FRACTION * mass.max()])
    return np.where(keep[labels], ink, 0).astype(np.float32)


def fit_to_mnist(ink: np.ndarray) -> np.ndarray:
    """Crop, scale and centre an ink map as MNIST's digits are: ``(28, 28)`` uint8.

    The last step of ``preprocess`` on its own, for images that are already ink on black (such as
    the generated non-digits of ``data/non_digits.py``).

    Raises:
        ImageError: No ink at all.

    """
    if not np.any(ink > 0):
        raise ImageError("no ink")
    return _place(_crop(np.asarray(ink, dtype=np.float32)))


def _bounds(ink: np.ndarray, level: float = 0.0) -> tuple[int, int, int, int]:
    """Top, bottom, left and right (exclusive) of the pixels with more ink than ``level``."""
    inked = ink > level
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _crop(ink: np.ndarray) -> np.ndarray:
    """Crop to the digit, scale it to fit ``DIGIT_BOX`` x ``DIGIT_BOX``, make the strongest ink 1.

    The box holds the ink of at least ``BOX_INK`` of the peak (measured on the robustness suite's
    own-image sets: docs/robustness.md, Preprocessing).
    """
    top, bottom, left, right = _bounds(ink, BOX_INK * float(ink.max()) * (1 - 1e-6))
    box = ink[top:bottom, left:right]
    height, width = box.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size != (width, height):
        image = Image.fromarray(np.ascontiguousarray(box, dtype=np.float32))
        box = np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    box = np.clip(box, 0, None)
    scaled: np.ndarray = box / max(float(box.max()), 1e-6)
    return scaled


def _place(digit: np.ndarray) -> np.ndarray:
    """Paste ``digit`` into a black 28x28 image with its centre of mass at ``CENTRE``."""
    height, width = digit.shape
    total = float(digit.sum())
    cy = float((digit.sum(axis=1) * np.arange(height)).sum()) / total
    cx = float((digit.sum(axis=0) * np.arange(width)).sum()) / total
    top = min(max(round(CENTRE - cy), 0), IMAGE_SIZE - height)
    left = min(max(round(CENTRE - cx), 0), IMAGE_SIZE - width)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    out[top : top + height, left : left + width] = digit
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def normalize(images: Tensor, mean: float = MEAN, std: float = STD) -> Tensor:
    """Turn uint8 pixels into the network's input: ``(x / 255 - mean) / std`` as float32.

    Args:
        images: uint8 tensor of any shape, e.g. ``(B, 1, 28, 28)``.
        mean: Mean subtracted after scaling to [0, 1].
        std: Standard deviation divided by after subtracting the mean.

    Returns:
        A new float32 tensor, bit-identical to torchvision's ``ToTensor()`` + ``Normalize``.

    """
    return images.float().div_(255).sub_(mean).div_(std)
