"""Candidate digits of a written number: pieces of ink and cuts between them, without a network.

    from mnist_lit.numbers.segment import segment_image
    lattice = segment_image(Image.open("0417.jpg"))  # lattice.images: (K, 28, 28) candidates

The image's ink is found as for one digit (``preprocess``: grey levels, the paper fitted and
subtracted, either polarity, specks dropped) and split into *atoms*, ordered left to right:

1. connected strokes (8-connected ink); a digit whose stroke broke is several of them;
2. a stroke-blob wider than a digit is cut at its thinnest columns (local minima of the ink's
   column sums) into narrower atoms, since neighbouring digits may touch there; which of the
   cuts are real is left to the network.

Every run of up to ``MAX_ATOMS`` neighbouring atoms no wider than ``MAX_WIDTH`` digit heights is
a candidate digit, drawn as MNIST draws digits (``preprocess.fit_to_mnist``), with measures of
its shape (too wide, too small, a gap inside) and whether it starts or ends at a cut through ink. The reader (``reader.py``) picks the candidates that tile the atoms with the best total of
network log-probability and prior.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_lit.constants import IMAGE_SIZE
from mnist_lit.data.preprocess import (
    ImageError,
    drop_specks,
    find_ink,
    fit_to_mnist,
    grey_levels,
)

READ_PIXELS = 2**21
"""Images are reduced (area averaging) to at most this many pixels before the ink is found."""

STRIP_PIECE = 6
"""Strips wider than twice this many heights have their paper fitted piece by piece."""

WORK_HEIGHT = 64
"""The ink's band is reduced to at most this height (pixels) before it is split."""

STROKE = 0.15
"""Pixels with at least this fraction of the strongest ink make up the atoms."""

MAX_ATOMS = 5
"""A candidate digit is a run of at most this many atoms."""

MAX_WIDTH = 1.6
"""A candidate digit is at most this many digit heights wide."""

CUT_WIDTH = 0.6
"""Blobs wider than this many digit heights get cut candidates."""

MIN_PIECE = 0.15
"""A cut leaves at least this many digit heights of the blob on each side."""

MAX_CUTS = 6
"""At most this many cut candidates per blob (the thinnest columns)."""

BROKEN_GAP = 0.08
"""Empty columns inside a candidate up to this many digit heights are free (a broken stroke); more
where the number's digits are far apart: up to half their median gap."""

SHAPE = ("wide", "gap", "short", "cuts")
"""The columns of ``Lattice.shape``."""

MAX_PIECES = 2000
"""Images with more atoms than this are refused (about 500 digits or more)."""


class Lattice(NamedTuple):
    """The candidate digits of one image: runs of atoms, each with its image, box and prior."""

    atoms: int
    """Number of atoms; candidate ``k`` covers atoms ``spans[k, 0]`` to ``spans[k, 1] - 1``."""
    spans: np.ndarray
    """``(K, 2)`` int: first atom and one past the last atom of each candidate."""
    boxes: np.ndarray
    """``(K, 4)`` int: left, top, right, bottom (exclusive) of each candidate, in image pixels."""
    shape: np.ndarray
    """``(K, 4)`` float: what the reader's log-prior weighs (``SHAPE``): width beyond 1.1 digit
    heights, empty columns inside beyond those of a broken stroke (``BROKEN_GAP``), height short of half a digit's (all
    in digit heights), and the strokes its ends cut through (halved: a cut is shared by two)."""
    images: np.ndarray
    """``(K, 28, 28)`` uint8: each candidate as an MNIST-like digit (``(0, 28, 28)`` once batched)."""


class _Atom(NamedTuple):
    top: int
    bottom: int
    left: int
    right: int
    mask: np.ndarray  # (bottom - top, right - left) bool
    centre: float  # column of the centre of mass
    blob: int  # which connected blob it came from


def segment_image(image: Image.Image) -> Lattice:
    """Split an image of a number written in a row into candidate digits.

    Args:
        image: Any Pillow image (as ``preprocess.preprocess``): a photo or scan with dark ink
            on light paper, a drawing light on dark, a canvas export; any size.

    Raises:
        ImageError: No ink stands out, or more than ``MAX_PIECES`` pieces of ink.

    """
    width, height = image.size
    if width == 0 or height == 0:
        raise ImageError(f"image of size {width}x{height}")
    limit = max(width, height)
    if width * height > READ_PIXELS:
        limit = max(1, int(limit * math.sqrt(READ_PIXELS / (width * height))))
    try:
        grey = grey_levels(image, limit)  # (H, W) in [0, 1]
    except ValueError as err:
        raise ImageError(f"unsupported colour mode {image.mode}: {err}") from None
    scale = grey.shape[1] / width  # image pixels -> grey pixels
    ink = drop_specks(_strip_ink(grey))
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    band = rows[-1] + 1 - rows[0]
    if scale < 1 and band < WORK_HEIGHT and (cols[-1] + 1 - cols[0]) * band < ink.size / 16:
        # A small number in a large picture: look again at it and its surroundings in detail.
        left, top = (max(0, int((c[0] - band) / scale)) for c in (cols, rows))
        right = min(width, int((cols[-1] + 1 + band) / scale) + 1)
        bottom = min(height, int((rows[-1] + 1 + band) / scale) + 1)
        lattice = segment_image(image.crop((left, top, right, bottom)))
        return lattice._replace(boxes=lattice.boxes + np.array([left, top, left, top]))
    return segment_ink(ink, scale)


def _strip_ink(grey: np.ndarray) -> np.ndarray:
    """``preprocess.find_ink`` in pieces at most ``STRIP_PIECE`` heights wide, for long strips.

    The paper's surface is fitted to at most 48 x 48 points: on a strip hundreds of times wider
    than tall they would all lie on its first row, and the fit would not hold below it.
    """
    height, width = grey.shape
    piece = STRIP_PIECE * height
    if width <= 2 * piece:
        return find_ink(grey)
    ink = np.zeros_like(grey)
    for start in range(0, width, piece):
        stop = min(width, start + piece)
        try:
            ink[:, start:stop] = find_ink(grey[:, start:stop])
        except ImageError:  # a stretch of blank paper
            continue
    if not np.any(ink > 0):
        raise ImageError("no digit found: the image is blank or has too little contrast")
    return ink


def segment_ink(ink: np.ndarray, scale: float = 1.0) -> Lattice:
    """Split an ink map (``(H, W)`` >= 0, 0 = paper) into candidate digits.

    Args:
        ink: Ink strength per pixel.
        scale: Pixels of ``ink`` per pixel of the image the boxes refer to.

    Raises:
        ImageError: No ink, or more than ``MAX_PIECES`` pieces.

    """
    if not np.any(ink > 0):
        raise ImageError("no digit found: the image is blank or has too little contrast")
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    band = ink[top : rows[-1] + 1, left : cols[-1] + 1]
    shrink = min(1.0, WORK_HEIGHT / band.shape[0])
    if shrink < 1:  # (h, w) -> (WORK_HEIGHT, w * shrink)
        size = (max(1, round(band.shape[1] * shrink)), WORK_HEIGHT)
        reduced = Image.fromarray(np.ascontiguousarray(band, dtype=np.float32))
        band = np.asarray(reduced.resize(size, Image.Resampling.BOX), dtype=np.float32)
    band = np.asarray(band, dtype=np.float32) / float(band.max())
    atoms, digit_height = _atoms(band)
    # work pixels -> image pixels: x_image = (x_work / shrink + left) / scale
    factor = (1 / shrink, left, top, scale)
    return _candidates(band, atoms, digit_height, factor)


def _atoms(band: np.ndarray) -> tuple[list[_Atom], float]:
    """Return the atoms of the band, left to right, and the typical digit height (pixels)."""
    strokes = band >= STROKE
    labels, count = ndimage.label(strokes, structure=np.ones((3, 3)))
    if count == 0:
        raise ImageError("no digit found: the image is blank or has too little contrast")
    if count > MAX_PIECES:
        raise ImageError(
            f"{count:,} separate pieces of ink, over the limit of {MAX_PIECES:,}: "
            "not a number written in a row (or cut it into shorter strips)"
        )
    slices = ndimage.find_objects(labels)
    mass = ndimage.sum_labels(band, labels, index=np.arange(1, count + 1))
    heights = np.array([s[0].stop - s[0].start for s in slices], dtype=np.float32)
    digit_height = float(np.median(heights[mass >= 0.3 * mass.max()]))
    atoms: list[_Atom] = []
    for blob, (rows, cols) in enumerate(slices):
        mask = labels[rows, cols] == blob + 1
        ink = np.where(mask, band[rows, cols], 0)
        edges = [0, *_cuts(ink, digit_height), mask.shape[1]]
        for start, stop in itertools.pairwise(edges):
            piece = mask[:, start:stop]
            filled = np.flatnonzero(piece.any(axis=1))
            if len(filled) == 0:
                continue
            piece = piece[filled[0] : filled[-1] + 1]
            weights = piece.sum(axis=0)
            centre = (
                cols.start
                + start
                + float((weights * np.arange(len(weights))).sum()) / max(float(weights.sum()), 1.0)
            )
            atoms.append(
                _Atom(
                    rows.start + int(filled[0]),
                    rows.start + int(filled[-1]) + 1,
                    cols.start + start,
                    cols.start + stop,
                    piece,
                    centre,
                    blob,
                )
            )
    if len(atoms) > MAX_PIECES:
        raise ImageError(
            f"{len(atoms):,} pieces of ink, over the limit of {MAX_PIECES:,}: "
            "not a number written in a row (or cut it into shorter strips)"
        )
    atoms.sort(key=lambda atom: atom.centre)
    return atoms, digit_height


def _cuts(ink: np.ndarray, digit_height: float) -> list[int]:
    """Columns where a blob wider than a digit may be two touching digits, left to right."""
    width = ink.shape[1]
    if width <= CUT_WIDTH * digit_height:
        return []
    margin = max(2, round(MIN_PIECE * digit_height))
    profile = ndimage.uniform_filter1d(ink.sum(axis=0), size=3, mode="nearest")  # (w,)
    inside = np.arange(margin, width - margin + 1)
    if len(inside) == 0:
        return []
    # local minima of the column sums (plateaus count once), thinnest first
    left = np.r_[np.inf, profile[:-1]]
    right = np.r_[profile[1:], np.inf]
    minima = [int(x) for x in inside if profile[x] <= left[x] and profile[x] < right[x]]
    minima.sort(key=lambda x: profile[x])
    chosen: list[int] = []
    for x in minima:
        if all(abs(x - c) >= margin for c in chosen):
            chosen.append(x)
        if len(chosen) == MAX_CUTS:
            break
    return sorted(chosen)


def _candidates(
    band: np.ndarray,
    atoms: list[_Atom],
    digit_height: float,
    factor: tuple[float, int, int, float],
) -> Lattice:
    """Every run of neighbouring atoms that could be one digit, drawn, boxed and measured."""
    count = len(atoms)
    stretch, left0, top0, scale = factor
    # a cut through ink lies between atoms i - 1 and i when both came from one blob; it costs
    # per stroke it crosses (a bridge between touching digits is one, a loop's middle two)
    cut = [0.0] * (count + 1)
    for i in range(1, count):
        if atoms[i - 1].blob == atoms[i].blob:
            a = atoms[i - 1]
            column = a.mask[:, -1]  # the last column before the cut
            cut[i] = float(np.count_nonzero(np.diff(np.r_[0, column.astype(np.int8), 0]) == 1))
    # the number's spacing: the median gap between neighbouring blobs; a gap inside a candidate
    # well below it is a broken stroke rather than the space between two digits
    gaps = [
        b.left - a.right
        for a, b in itertools.pairwise(atoms)
        if a.blob != b.blob and b.left > a.right
    ]
    allowed = max(BROKEN_GAP, 0.5 * float(np.median(gaps)) / digit_height if gaps else 0.0)
    spans, boxes, shape, images = [], [], [], []
    for start in range(count):
        for stop in range(start + 1, min(start + MAX_ATOMS, count) + 1):
            run = atoms[start:stop]
            top = min(a.top for a in run)
            bottom = max(a.bottom for a in run)
            left = min(a.left for a in run)
            right = max(a.right for a in run)
            width, height = right - left, bottom - top
            if stop > start + 1 and width > MAX_WIDTH * digit_height:
                break
            ink = np.zeros((height, width), dtype=np.float32)
            for a in run:
                region = (slice(a.top - top, a.bottom - top), slice(a.left - left, a.right - left))
                ink[region] = np.maximum(
                    ink[region], np.where(a.mask, band[a.top : a.bottom, a.left : a.right], 0)
                )
            spans.append((start, stop))
            boxes.append(
                [
                    math.floor((left * stretch + left0) / scale),
                    math.floor((top * stretch + top0) / scale),
                    math.ceil((right * stretch + left0) / scale),
                    math.ceil((bottom * stretch + top0) / scale),
                ]
            )
            shape.append((*_shape(ink, digit_height, allowed), (cut[start] + cut[stop]) / 2))
            images.append(fit_to_mnist(ink))
    return Lattice(
        atoms=count,
        spans=np.array(spans, dtype=np.int64).reshape(-1, 2),
        boxes=np.array(boxes, dtype=np.int64).reshape(-1, 4),
        shape=np.array(shape, dtype=np.float32).reshape(-1, len(SHAPE)),
        images=np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8),
    )


def _shape(ink: np.ndarray, digit_height: float, allowed: float) -> tuple[float, float, float]:
    """How far one candidate is from a digit's shape: too wide, gapped inside, too short."""
    height, width = ink.shape
    gap = _longest_run(np.asarray(~ink.any(axis=0))) / digit_height
    wide = width / max(height, 0.8 * digit_height)
    short = max(0.0, 0.5 - height / digit_height)
    return max(0.0, wide - 1.1), max(0.0, gap - allowed), short


def _longest_run(values: np.ndarray) -> int:
    """Length of the longest run of ``True`` in a 1-D bool array."""
    if not values.any():
        return 0
    padded = np.r_[False, values, False].astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return int((changes[1::2] - changes[::2]).max())
