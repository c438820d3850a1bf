"""Every image is decoded within a budget: scans and memory checked first, time while decoding."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_lit.data.preprocess import ImageError, load_digit
from tests.helpers import ROOT, progressive_jpeg


def test_a_jpeg_repeating_a_scan_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jpg"
    path.write_bytes(progressive_jpeg(2000, 600))  # 30 kB: about 3 s of decoding
    start = time.perf_counter()
    with pytest.raises(ImageError, match="a JPEG with more than 100 scans"):
        load_digit(path)
    assert time.perf_counter() - start < 0.5
    # the larger the image, the fewer scans it may have: 2e9 scan-pixels at most
    path.write_bytes(progressive_jpeg(8000, 40))
    with pytest.raises(ImageError, match="more than 31 scans at its size"):
        load_digit(path)


def test_ordinary_progressive_photos_are_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paper = rng.normal(200, 8, (3000, 4000, 3)).clip(0, 255).astype(np.uint8)
    photo = Image.fromarray(paper)
    ImageDraw.Draw(photo).line([(2000, 600), (2000, 2400)], fill=(20, 20, 20), width=120)
    path = tmp_path / "photo.jpg"
    photo.save(path, progressive=True, quality=85)  # 12 megapixels, 10 scans
    pixels = load_digit(path)
    assert pixels[:, 12:16].sum() > 0.9 * pixels.sum()  # a 1, upright in the middle
    assert (pixels[4:24].max(axis=1) > 200).all()


def test_decoding_stops_at_the_time_limit(tmp_path: Path) -> None:
    path = tmp_path / "slow.jpg"
    path.write_bytes(progressive_jpeg(4000, 90))  # within the scan limits: about 1.5 s
    start = time.perf_counter()
    load_digit(path)
    whole = time.perf_counter() - start
    limit = round(whole / 3, 3)  # within the decoder's work, whatever the CPU's speed
    start = time.perf_counter()
    with pytest.raises(ImageError, match=rf"decoding took over {limit:g} s"):
        load_digit(path, max_seconds=limit)
    assert time.perf_counter() - start < whole / 2  # not after the decoder has done its work


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG" + bytes(5_000_000))
    with pytest.raises(ImageError, match=r"file of 4.8 MB is over the limit of 3.8 MB"):
        load_digit(path, max_pixels=1_000_000)  # files up to 4 bytes a pixel


PEAK = """
import os, resource, sys
from PIL import Image
from mnist_lit.data.preprocess import load_digit
Image.MAX_IMAGE_PIXELS = None
for path in sys.argv[1:]:
    if os.fork() == 0:  # each image in a process of its own: its own peak
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        load_digit(path)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, flush=True)
        os._exit(0)
    os.wait()
"""


def big_image(mode: str, side: int) -> Image.Image:
    """A thick stroke across a ``side`` x ``side`` image of ``mode``."""
    ink = Image.new("L", (side, side), 0)
    ImageDraw.Draw(ink).line([(side // 2, side // 5), (side // 2, 4 * side // 5)], 255, side // 12)
    if mode == "RGBA":  # strokes on transparent paper, as a canvas exports them
        image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        image.putalpha(ink)
        return image
    values = np.asarray(ink, dtype=np.float32) / 255
    if mode == "I;16":
        return Image.fromarray((values * 65535).astype(np.uint16))
    return Image.fromarray(values * 1e6)  # F: a float TIFF's own range


def test_decoding_takes_little_more_memory_than_the_decoded_image(tmp_path: Path) -> None:
    side = 4000  # 16 megapixels
    modes = {"RGBA": ".png", "I;16": ".png", "F": ".tif"}
    paths = [tmp_path / f"{mode.replace(';', '')}{suffix}" for mode, suffix in modes.items()]
    for mode, path in zip(modes, paths, strict=True):
        big_image(mode, side).save(path, compression="tiff_deflate" if mode == "F" else None)
    output = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PEAK), *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    peaks = dict(zip(modes, map(int, output.split()), strict=True))
    # decoded: 4 bytes a pixel (RGBA, F), 2 (I;16); the RGBA image is reduced with its colours
    # premultiplied by its alpha, a copy; 24 MB for what any decoding needs beside (buffers).
    # Measured: RGBA 149-156 MB, I;16 47, F 91-95; without a budget 210, 235 and 268 MB.
    factors = {"RGBA": 2.4 * 4, "I;16": 1.3 * 2, "F": 1.3 * 4}
    for mode, peak in peaks.items():
        limit = factors[mode] * side * side + 24 * 2**20
        assert peak < limit, f"{peak / 2**20:.0f} MB for {mode}: {peaks}"
