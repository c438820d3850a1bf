"""Damaged images of every format read: a 28x28 digit or the project's one-line error, quickly."""

import io
import random
import time
from pathlib import Path

import numpy as np

from mnist_lit.data.preprocess import ImageError, load_digit
from tests.helpers import dark_on_white

SEEDS = [
    ("PNG", {}),
    ("JPEG", {"quality": 90}),
    ("JPEG", {"progressive": True}),
    ("GIF", {}),
    ("TIFF", {}),
    ("TIFF", {"compression": "tiff_lzw"}),
    ("BMP", {}),
    ("WEBP", {}),
    ("PPM", {}),
]
"""The undamaged images the fuzzer starts from: one digit in each format and variant read."""

CASES = 300
SECONDS_EACH = 2.0
"""A generous bound per image: on a 2-core CPU each takes milliseconds."""


def _damaged(rng: random.Random, data: bytes) -> bytes:
    """Flip, cut or insert bytes at 1-20 random places."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        at = rng.randrange(len(out))
        kind = rng.random()
        if kind < 0.6:
            out[at] = rng.randrange(256)
        elif kind < 0.8:
            del out[at : at + rng.randint(1, 50)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 50)))
    return bytes(out)


def test_damaged_images_give_a_digit_or_one_line(tmp_path: Path) -> None:
    originals = []
    for fmt, options in SEEDS:
        buffer = io.BytesIO()
        dark_on_white().convert("RGB").save(buffer, format=fmt, **options)
        originals.append(buffer.getvalue())
    rng = random.Random(2026)
    outcomes = {"digit": 0, "refused": 0}
    started = time.perf_counter()
    for case in range(CASES):
        path = tmp_path / f"case{case}.img"
        path.write_bytes(_damaged(rng, rng.choice(originals)))
        begun = time.perf_counter()
        try:
            digit = load_digit(path)
        except ImageError as err:  # the project's reason; anything else fails the test
            assert str(err) and "\n" not in str(err), case
            outcomes["refused"] += 1
        else:
            assert digit.shape == (28, 28) and digit.dtype == np.uint8, case
            outcomes["digit"] += 1
        assert time.perf_counter() - begun < SECONDS_EACH, case
    assert time.perf_counter() - started < 60
    # both outcomes are common: the damage is neither always fatal nor never
    assert min(outcomes.values()) > CASES // 10, outcomes
