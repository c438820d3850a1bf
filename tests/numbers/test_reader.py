"""Numbers read by a real network: gaps, touching strokes, polarity, a 1 next to a 7."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mnist_lit.demo.recognise import Recogniser
from mnist_lit.numbers.reader import NumberReader, choose
from mnist_lit.numbers.segment import Lattice
from tests.numbers.helpers import FIXTURE, written


@pytest.fixture(scope="module")
def reader() -> NumberReader:
    recogniser = Recogniser.from_checkpoint(FIXTURE)
    return NumberReader(recogniser.net, recogniser.mean, recogniser.std, recogniser.calibration)


@pytest.mark.parametrize(
    ("number", "gap", "light_on_dark"),
    [
        ("0417", 30, False),  # wide gaps, leading zero
        ("0417", 4, True),  # tight gaps, light strokes on black
        ("17", 6, False),  # a 1 next to a 7 is not a 4
        ("71", 6, True),
        ("235", 0, False),  # boxes side by side
        ("5", 0, False),  # one digit is a number too
    ],
)
def test_numbers_apart_are_read_digit_by_digit(
    reader: NumberReader, number: str, gap: int, light_on_dark: bool
) -> None:
    reading = reader(written(number, gap, light_on_dark))
    assert reading.number == number
    assert len(reading.boxes) == len(reading.confidences) == len(number)
    assert reading.pixels.shape == (len(number), 28, 28)
    assert [box[0] for box in reading.boxes] == sorted(box[0] for box in reading.boxes)


def test_touching_digits_are_cut_by_the_network(reader: NumberReader) -> None:
    assert reader(written("30", gap=-5)).number == "30"


def test_uneven_sizes_and_baselines(reader: NumberReader) -> None:
    small, large = written("7", 10, height=50), written("42", 10, height=90)
    canvas = Image.new("L", (small.width + large.width, large.height + 30), 255)
    canvas.paste(small, (0, 0))
    canvas.paste(large, (small.width, 30))
    assert reader(canvas).number == "742"


def test_choose_takes_the_best_path_and_may_skip_a_piece() -> None:
    # three pieces: [0, 1) "1", [1, 2) "7", [0, 2) "4"; piece 2 a smudge nothing reads
    spans = np.array([[0, 1], [1, 2], [0, 2], [2, 3]])
    lattice = Lattice(
        atoms=3,
        spans=spans,
        boxes=np.array([[0, 0, 5, 9], [6, 0, 12, 9], [0, 0, 12, 9], [13, 0, 14, 1]]),
        shape=np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0.3, 0, 0], [0, 0, 0.45, 0]]),
        images=np.zeros((0, 28, 28), dtype=np.uint8),
    )
    probabilities = np.full((4, 10), 0.01)
    for k, digit, p in [(0, 1, 0.91), (1, 7, 0.91), (2, 4, 0.91), (3, 8, 0.2)]:
        probabilities[k, digit] = p
    reading = choose(lattice, probabilities, np.array([False, True, False, False]))
    assert reading.number == "17"  # the gap inside "4" costs more than a second digit
    assert reading.unsure == (False, True) and reading.is_unsure
    assert reading.boxes == ((0, 0, 5, 9), (6, 0, 12, 9))


def test_a_long_strip_and_a_small_number_in_a_huge_picture(reader: NumberReader) -> None:
    strip = written("0417" * 30, 12, height=40)  # 120 digits, 130 times wider than tall
    reading = reader(strip)
    assert len(reading.number) == 120
    assert sum(a == b for a, b in zip(reading.number, "0417" * 30, strict=True)) >= 114
    paper = Image.new("L", (5000, 4000), 255)  # reduced to 2 megapixels, then looked at again
    paper.paste(written("2903", 12, height=60), (3000, 2500))
    reading = reader(paper)
    assert reading.number == "2903"
    assert 3000 < reading.boxes[0][0] < reading.boxes[-1][2] < 3600
