"""Preprocessing of users' images: every kind of input gives the digit MNIST would have."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from mnist_lit.data.preprocess import ImageError, load_digit, preprocess
from tests.helpers import BAD_FILES, good_png, stroke_digit, transparent_strokes

REFERENCE = preprocess(stroke_digit())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two 28x28 images: 1 = the same picture, about 0 = unrelated."""
    return float(np.corrcoef(a.reshape(-1).astype(float), b.reshape(-1).astype(float))[0, 1])


def saved(image: Image.Image, fmt: str, **kwargs: object) -> Image.Image:
    """``image`` written in ``fmt`` and read back, as a user's file would be."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    buffer.seek(0)
    return Image.open(buffer)


def ink_on_paper(strokes: Image.Image, paper: tuple[int, int, int], noise: float) -> Image.Image:
    """Dark ink on coloured paper that darkens from left to right, with pixel noise."""
    alpha = np.asarray(strokes, dtype=np.float32)[..., None] / 255
    width = alpha.shape[1]
    light = np.linspace(1.0, 0.8, width)[None, :, None]
    rng = np.random.default_rng(0)
    pixels = np.array(paper) * light * (1 - alpha) + 20 * alpha
    pixels += rng.normal(0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_output_looks_like_mnist() -> None:
    assert REFERENCE.shape == (28, 28) and REFERENCE.dtype == np.uint8
    rows, cols = np.flatnonzero(REFERENCE.any(1)), np.flatnonzero(REFERENCE.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20  # long side fits 20x20
    assert REFERENCE[:3].max() == 0 and REFERENCE[:, -3:].max() == 0  # a black margin
    ys, xs = np.mgrid[:28, :28]
    mass = REFERENCE.astype(float)
    centre = ((ys * mass).sum() / mass.sum(), (xs * mass).sum() / mass.sum())
    assert centre == pytest.approx((14, 14), abs=0.6)
    assert REFERENCE.max() == 255


@pytest.mark.parametrize(("blur", "span"), [(3, 20), (6, 18)])
def test_a_blurred_digit_is_not_shrunk_by_its_halo(blur: int, span: int) -> None:
    """The box leaves out the faint halo, so the digit's strokes still span (nearly) 20 pixels.

    With the halo in the box they spanned 18 and 16 pixels: a smaller digit than MNIST's.
    """
    digit = preprocess(stroke_digit().filter(ImageFilter.GaussianBlur(blur)))
    strong = digit >= 128
    rows, cols = np.flatnonzero(strong.any(1)), np.flatnonzero(strong.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= span


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (200, 200), 0)
    image.putpalette([255, 255, 255, 10, 10, 10] + [0] * 762)  # 0 = white, 1 = near-black
    image.paste(1, mask=stroke_digit().point(lambda v: 255 if v > 127 else 0))
    image.info["transparency"] = 0  # the white background is transparent
    return image


def sixteen_bit() -> Image.Image:
    pixels = 65535 - np.asarray(stroke_digit(), dtype=np.uint16) * 200  # dark ink, 16-bit paper
    return Image.fromarray(pixels)


def twelve_bit() -> Image.Image:
    """Dark ink on light paper in 12-bit values (0-4095) stored in a 16-bit image."""
    pixels = 4095 - np.asarray(stroke_digit(), dtype=np.uint16) * 16
    return Image.fromarray(pixels)


def float_with_nan() -> Image.Image:
    pixels = np.asarray(stroke_digit(), dtype=np.float32) / 255
    pixels[0, :5] = np.nan  # a float TIFF with missing values
    return Image.fromarray(pixels)


def float_extremes() -> Image.Image:
    """A float TIFF spanning float32's range: subtracting its minimum overflowed into NaN."""
    ink = np.asarray(stroke_digit(), dtype=np.float64) / 255
    pixels = np.float32(-3.4e38) + ink * 6.8e38  # -3.4e38 paper, 3.4e38 strokes
    return saved(Image.fromarray(pixels.astype(np.float32)), "TIFF")


VARIANTS = {
    "dark ink on white": lambda: Image.eval(stroke_digit(), lambda v: 255 - v),
    "tinted noisy uneven paper": lambda: ink_on_paper(stroke_digit(), (235, 215, 160), noise=8),
    "off-centre on a large page": lambda: _pasted(stroke_digit(), (900, 600), (620, 380)),
    "small in a corner of a photo": lambda: _pasted(stroke_digit(), (4000, 3000), (3700, 150)),
    "8x8 scan": lambda: stroke_digit().resize((8, 8), Image.Resampling.BOX),
    "scaled up 5x": lambda: stroke_digit().resize((1000, 1000), Image.Resampling.BICUBIC),
    "RGBA black strokes on transparency": lambda: transparent_strokes((0, 0, 0)),
    "RGBA blue strokes on transparency": lambda: transparent_strokes((30, 60, 200)),
    "LA white strokes": lambda: transparent_strokes((255, 255, 255)).convert("LA"),
    "P with transparency": palette_with_transparency,
    "I;16": sixteen_bit,
    "CMYK JPEG": lambda: saved(
        Image.eval(stroke_digit(), lambda v: 255 - v).convert("CMYK"), "JPEG"
    ),
    "1-bit BMP": lambda: saved(stroke_digit().convert("1"), "BMP"),
    "GIF": lambda: saved(Image.eval(stroke_digit(), lambda v: 255 - v), "GIF"),
    "16-bit TIFF": lambda: saved(sixteen_bit(), "TIFF"),
    "12-bit PNG": lambda: saved(twelve_bit(), "PNG"),
    "F with NaN": float_with_nan,
    "F TIFF at float32's extremes": float_extremes,
    "RGBA WebP": lambda: saved(transparent_strokes((0, 0, 0)), "WEBP", lossless=True),
    "RGB JPEG": lambda: saved(ink_on_paper(stroke_digit(), (250, 250, 245), noise=3), "JPEG"),
}


def _pasted(strokes: Image.Image, size: tuple[int, int], at: tuple[int, int]) -> Image.Image:
    page = Image.new("L", size, 0)
    page.paste(strokes, at)
    return Image.eval(page, lambda v: 255 - v)  # dark on white


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_kind_of_input_gives_the_same_digit(name: str) -> None:
    image = VARIANTS[name]()
    out = preprocess(image)
    minimum = 0.7 if name == "8x8 scan" else 0.9  # 8x8 pixels keep only a blur of the strokes
    assert similarity(out, REFERENCE) > minimum, name


def test_a_bold_digit_filling_most_of_the_image_keeps_its_polarity() -> None:
    # a thick dark "0" over more than half of a tight crop: the paper is what is at the edge
    image = Image.new("L", (100, 100), 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse([5, 2, 95, 98], fill=0)
    draw.ellipse([35, 25, 65, 75], fill=255)
    assert (np.asarray(image) < 128).mean() > 0.5
    out = preprocess(image)
    assert out[14, 14] < 30  # the hole of the 0 stays background
    assert out[14, 6:9].mean() > 200 and out[14, 20:23].mean() > 200  # the ring is ink


def test_transparent_canvas_is_not_a_black_square() -> None:
    # the colour channels are black everywhere: only the alpha channel holds the drawing
    out = preprocess(transparent_strokes((0, 0, 0)))
    assert 0.05 < (out > 127).mean() < 0.5


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    upright = Image.eval(stroke_digit(), lambda v: 255 - v).convert("RGB")
    # as a phone stores a photo taken sideways: pixels turned, tag 6 says "turn 90° clockwise"
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    stored.save(path, exif=exif.tobytes(), quality=90)
    assert similarity(load_digit(path), REFERENCE) > 0.9
    assert similarity(preprocess(stored), REFERENCE) < 0.5  # what ignoring the tag would give


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (300, 200), 255),
        ink_on_paper(Image.new("L", (300, 200), 0), (230, 210, 150), noise=10),
        Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
    ],
    ids=["white page", "tinted noisy paper", "empty canvas"],
)
def test_blank_images_are_refused(image: Image.Image) -> None:
    with pytest.raises(ImageError, match="no digit found"):
        preprocess(image)


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_raise_a_clear_error(name: str, tmp_path: Path) -> None:
    content, reason = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        load_digit(path)


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "digit.png"
    path.write_bytes(good_png())
    assert load_digit(path).shape == (28, 28)
    with pytest.raises(ImageError, match="200x200 pixels is over the limit of 10,000"):
        load_digit(path, max_pixels=10_000)


@pytest.mark.parametrize("fmt", ["ICO", "ICNS", "EPS", "PDF", "TGA"])
def test_formats_not_read_are_refused_before_decoding_whatever_the_name(
    tmp_path: Path, fmt: str
) -> None:
    # ICO and ICNS decode before their size can be checked; EPS and PDF run Ghostscript
    path = tmp_path / "digit.png"  # named as a PNG
    image = Image.eval(stroke_digit(), lambda v: 255 - v).convert("RGB")
    try:
        image.save(path, format=fmt)
    except (KeyError, OSError) as err:  # Pillow cannot write it here
        pytest.skip(f"Pillow cannot write {fmt}: {err}")
    with pytest.raises(ImageError, match="not an image of a format read here"):
        load_digit(path)
