"""A growing dataset of labelled drawings, in the layout ``test`` and ``predict`` read.

    collection = Collection("data/drawings")
    collection.save(image, pixels, label=7)   # data/drawings/7/20261123-101502-123456.png
    collection.counts()                       # {0: 3, 1: 5, ..., 7: 1, ...}

    python -m mnist_lit test    --config configs/default.yaml --ckpt_path best --data.custom_dir data/drawings
    python -m mnist_lit predict --config configs/default.yaml --ckpt_path best --data.predict_dir data/drawings

Each sample is stored twice under the same name: the image as drawn or uploaded, in ``ROOT/<digit>/``
(an ImageFolder layout), and the 28x28 image the model saw, in the sibling folder
``ROOT_28x28/<digit>/``. Keeping them apart means ``test`` on ``ROOT`` counts every sample once,
and ``ROOT_28x28`` is itself a labelled folder in MNIST's format. Files are never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_lit.constants import CLASS_NAMES, IMAGE_SIZE
from mnist_lit.data.folders import walk_images
from mnist_lit.errors import ConfigError

SMALL_SUFFIX = "_28x28"
"""Appended to the collection folder's name to make the folder of 28x28 images."""


class Collection:
    """Labelled images saved as ``ROOT/<digit>/<timestamp>.png``, with their 28x28 versions.

    Args:
        root: The collection folder; created on the first save.

    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()  # "." and ".." have no name to extend
        if self.root == self.root.parent:
            raise ConfigError(f"collection folder {self.root} is a file system root; pick a folder")
        self.small_root = self.root.with_name(self.root.name + SMALL_SUFFIX)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"collection folder {self.root} is a file, not a folder")

    def save(self, original: Image.Image, pixels: np.ndarray, label: int) -> Path:
        """Store one sample under a new name and return the path of the original image.

        Each file is written under a hidden temporary name, then linked to its final name only
        if that name is free, so a sample is never half written, overwritten or half saved.

        Args:
            original: The image as the page read it (a drawing, or an upload as decoded:
                upright, at most 1024 pixels a side). It is encoded anew as PNG, never copied
                byte for byte: what a user sends cannot smuggle other content into the folder
                that ``test`` and ``predict`` read, and EXIF data (a phone's location) is not kept.
            pixels: ``(28, 28)`` uint8: what the model saw.
            label: The digit it shows, 0 to 9.

        Raises:
            ConfigError: ``label`` is not a digit, or the folder cannot be written.

        """
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
            raise ConfigError(f"label must be a digit from 0 to 9, got {label!r}")
        if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"expected (28, 28) pixels, got {pixels.shape}")
        folder = self.root / str(label)
        small_folder = self.small_root / str(label)
        temporary = [
            folder / f".saving-{uuid.uuid4().hex}",
            small_folder / f".saving-{uuid.uuid4().hex}",
        ]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            small_folder.mkdir(parents=True, exist_ok=True)
            original.save(temporary[0], format="PNG")
            Image.fromarray(pixels.astype(np.uint8)).save(temporary[1], format="PNG")
            return _publish(temporary[0], ".png", temporary[1])
        except OSError as err:
            raise ConfigError(
                f"cannot save into the collection {self.root}: {err.strerror or err}"
            ) from err
        finally:
            for path in temporary:
                with contextlib.suppress(OSError):  # never written, or its folder is unusable
                    path.unlink(missing_ok=True)

    def shown(self, path: Path) -> Path:
        """Return ``path`` as the demo shows it: from the collection's folder's name on.

        Replies of a page others may reach do not show where the server keeps its files.
        """
        return path.relative_to(self.root.parent)

    def counts(self) -> dict[int, int]:
        """Count the images per digit in the collection folder, as ``test`` will find them."""
        counts = dict.fromkeys(range(len(CLASS_NAMES)), 0)
        for digit in counts:
            folder = self.root / str(digit)
            if folder.is_dir():
                found, _, refused = walk_images(folder)
                counts[digit] = len(found) - len(refused)
        return counts


def _publish(original: Path, suffix: str, small: Path) -> Path:
    """Give the two written files free final names, ``<time>[-n]``; return the original's path.

    The name is ``<date>-<time>-<microseconds>``, with ``-1``, ``-2`` … if taken in either folder.
    ``os.link`` fails rather than replace an existing file, so two saves at the same moment (two
    browser tabs, two processes) never take the same name.
    """
    stem = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    for attempt in range(1000):
        name = stem if attempt == 0 else f"{stem}-{attempt}"
        final = original.with_name(name + suffix)
        try:
            os.link(original, final)
        except FileExistsError:
            continue
        try:
            os.link(small, small.with_name(name + ".png"))
        except FileExistsError:
            final.unlink()
            continue
        except BaseException:
            final.unlink()
            raise
        return final
    raise FileExistsError(f"no free file name for {stem} in {original.parent}")
