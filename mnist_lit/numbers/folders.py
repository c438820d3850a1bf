"""Folders of numbers for ``predict --data.read number``: each image segmented in a worker.

Each file becomes a ``Lattice`` (``segment.py``) in a DataLoader worker; a batch stacks every
candidate digit of its files into one ``(N, 1, 28, 28)`` tensor, which the model reads as any
batch of digits (``MNISTClassifier.predict_step`` reads ``batch[0]``). The prediction writer
then splits the probabilities back per file and chooses each file's digits (``reader.choose``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from mnist_lit.constants import IMAGE_SIZE
from mnist_lit.data.folders import ImageFiles
from mnist_lit.data.preprocess import open_image
from mnist_lit.numbers.segment import READ_PIXELS, Lattice, segment_image


class NumberItem(NamedTuple):
    """One file: its candidate digits (``None`` if it failed), label, name and failure reason."""

    lattice: Lattice | None
    label: int
    name: str
    error: str


class NumberBatch(NamedTuple):
    """The candidate digits of a batch of files, and the files that failed with their reasons."""

    images: Tensor
    """``(N, 1, 28, 28)`` uint8: every candidate of every usable file, file after file
    (normalised float32 once on the device)."""
    lattices: list[Lattice]
    """Each usable file's candidates, without their images (those are in ``images``)."""
    names: list[str]
    """Relative path of each usable file."""
    labels: list[int]
    """Label of each usable file (``UNLABELLED`` in a folder to predict)."""
    failures: list[tuple[str, int, str]]
    """``(name, label, reason)`` of each file that could not be used."""


class NumberImages(ImageFiles[NumberItem]):
    """Image files of numbers, decoded and segmented on access (in DataLoader workers).

    Args:
        root: Folder the names are relative to.
        listing: The files and their labels, from ``data.folders.list_images``.
        max_pixels: Refuse images with more pixels than this (decompression bombs).
        max_seconds: Stop decoding a file after this long (decode bombs): its row says so.

    """

    def __getitem__(self, index: int) -> NumberItem:
        lattice, error = self.read(index, self._segment)
        return NumberItem(lattice, self.labels[index], self.files[index], error)

    def _segment(self, path: Path) -> Lattice:
        # long strips keep their height: reduced to READ_PIXELS, not to 1024 px a side
        with open_image(path, self.max_pixels, self.max_seconds, keep_pixels=READ_PIXELS) as image:
            return segment_image(image)


def collate_numbers(items: Sequence[NumberItem]) -> NumberBatch:
    """Stack the candidates of the usable files of ``items``; list the failed files apart."""
    good = [item for item in items if item.lattice is not None and not item.error]
    lattices = [item.lattice for item in good if item.lattice is not None]
    images = (
        np.concatenate([lattice.images for lattice in lattices])
        if lattices
        else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    )
    return NumberBatch(
        images=torch.from_numpy(images).unsqueeze(1),  # (N, 1, 28, 28)
        lattices=[lattice._replace(images=lattice.images[:0]) for lattice in lattices],
        names=[item.name for item in good],
        labels=[item.label for item in good],
        failures=[(item.name, item.label, item.error) for item in items if item.error],
    )
