"""Candidate digits of drawn numbers: pieces, cuts and shapes, without a network."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image, ImageOps

from mnist_lit.data.preprocess import ImageError
from mnist_lit.numbers.segment import MAX_PIECES, Lattice, segment_image, segment_ink
from tests.numbers.helpers import written, written_with_boxes


def single(lattice_spans: np.ndarray) -> np.ndarray:
    return (lattice_spans[:, 1] - lattice_spans[:, 0]) == 1


def candidate(lattice: Lattice, box: np.ndarray, tolerance: int = 3) -> int:
    """The candidate whose box is ``box`` (within ``tolerance`` pixels); fails if none."""
    close = np.flatnonzero(np.abs(lattice.boxes - box).max(axis=1) <= tolerance)
    assert len(close), f"no candidate at {box.tolist()}: {lattice.boxes.tolist()}"
    return int(close[0])


@pytest.mark.parametrize("gap", [30, 3])
def test_every_digit_apart_is_a_candidate_with_its_box(gap: int) -> None:
    image, boxes = written_with_boxes("2357", gap=gap)
    lattice = segment_image(image)
    found = [candidate(lattice, box) for box in boxes]
    assert lattice.spans[found[0], 0] == 0 and lattice.spans[found[-1], 1] == lattice.atoms
    for left, right in itertools.pairwise(found):  # they tile the pieces, left to right
        assert lattice.spans[left, 1] == lattice.spans[right, 0]
    assert lattice.images.shape == (len(lattice.spans), 28, 28)


def test_a_one_next_to_a_seven_are_two_candidates_and_merging_them_costs() -> None:
    image, boxes = written_with_boxes("17", gap=6)
    lattice = segment_image(image)
    one, seven = candidate(lattice, boxes[0]), candidate(lattice, boxes[1])
    both = candidate(lattice, np.r_[boxes[0, :2], boxes[1, 2:]])
    gap = lattice.shape[:, 1]  # empty columns inside, beyond a broken stroke's
    assert gap[both] > 0 and gap[one] == gap[seven] == 0


def test_touching_digits_are_one_blob_with_a_cut_near_the_join() -> None:
    image = written("00", gap=-6)
    lattice = segment_image(image)
    assert lattice.atoms >= 2  # the blob was cut
    join = image.width / 2
    ends = lattice.boxes[single(lattice.spans), 2]
    assert np.min(np.abs(ends - join)) < image.width * 0.12
    cut = lattice.shape[:, 3]
    assert cut.max() > 0  # a boundary through ink is priced


def test_polarity_does_not_matter() -> None:
    dark = segment_image(written("4096", gap=12))
    light = segment_image(written("4096", gap=12, light_on_dark=True))
    assert dark.atoms == light.atoms
    np.testing.assert_array_equal(dark.spans, light.spans)
    assert np.abs(dark.boxes - light.boxes).max() <= 2


def test_blank_and_far_too_many_pieces_are_clear_errors() -> None:
    with pytest.raises(ImageError, match="no digit found"):
        segment_image(Image.new("L", (300, 80), 200))
    dots = np.zeros((9, 3 * (MAX_PIECES + 10)), dtype=np.float32)
    dots[3:6, ::3] = 1.0
    with pytest.raises(ImageError, match="over the limit"):
        segment_ink(dots)


def test_boxes_are_in_the_pixels_of_a_large_image() -> None:
    small = written("38", gap=20)
    large = small.resize((small.width * 8, small.height * 8))  # reduced before reading
    lattice = segment_image(ImageOps.invert(ImageOps.invert(large)))
    boxes = lattice.boxes[single(lattice.spans)]
    assert boxes[:, 2].max() > large.width * 0.5
    assert boxes[:, 2].max() <= large.width
