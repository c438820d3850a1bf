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

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_lit.constants import CLASS_NAMES, IMAGE_SIZE
from mnist_lit.errors import ConfigError
from mnist_lit.folders import image_extensions, walk_images

SMALL_SUFFIX = "_28x28"
"""Appended to the collection folder's name to make the folder of 28x28 images."""


class Collection:
    """Labelled images saved as ``ROOT/<digit>/<timestamp>.png``, with their 28x28 versions.

    Args:
        root: The collection folder; created on the first save.

    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.small_root = self.root.with_name(self.root.name + SMALL_SUFFIX)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"collection folder {self.root} is a file, not a folder")

    def save(self, original: Image.Image | Path, pixels: np.ndarray, label: int) -> Path:
        """Store one sample under a new name and return the path of the original image.

        Args:
            original: The image as the user gave it: a decoded image (saved as PNG) or an image
                file (copied as it is, so a photo keeps its format, size and EXIF orientation).
            pixels: ``(28, 28)`` uint8: what the model saw.
            label: The digit it shows, 0 to 9.

        Raises:
            ConfigError: ``label`` is not a digit, or the folder cannot be written.

        """
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
            raise ConfigError(f"label must be a digit from 0 to 9, got {label!r}")
        if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"expected (28, 28) pixels, got {pixels.shape}")
        suffix = ".png"
        if isinstance(original, Path) and original.suffix.lower() in image_extensions():
            suffix = original.suffix.lower()
        folder = self.root / str(label)
        small_folder = self.small_root / str(label)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            small_folder.mkdir(parents=True, exist_ok=True)
            path = _claim(folder, small_folder, suffix)
            small = small_folder / (path.stem + ".png")
            try:
                if isinstance(original, Path) and suffix == original.suffix.lower():
                    shutil.copyfile(original, path)
                else:
                    image = original if isinstance(original, Image.Image) else Image.open(original)
                    image.save(path, format="PNG")
                Image.fromarray(pixels.astype(np.uint8)).save(small, format="PNG")
            except BaseException:  # never leave half a sample behind
                path.unlink(missing_ok=True)
                small.unlink(missing_ok=True)
                raise
        except OSError as err:
            raise ConfigError(
                f"cannot save into the collection {self.root}: {err.strerror or err}"
            ) from err
        return path

    def counts(self) -> dict[int, int]:
        """Count the images per digit in the collection folder, as ``test`` will find them."""
        counts = dict.fromkeys(range(len(CLASS_NAMES)), 0)
        for digit in counts:
            folder = self.root / str(digit)
            if folder.is_dir():
                counts[digit] = len(walk_images(folder)[0])
        return counts


def _claim(folder: Path, small_folder: Path, suffix: str) -> Path:
    """Create an empty file named by the time, free in both folders, and return its path.

    The name is ``<date>-<time>-<microseconds>``, with ``-1``, ``-2`` … if it is taken. The file
    is created exclusively, so two saves at the same moment (two browser tabs) never share a name.
    """
    stem = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    for attempt in range(1000):
        name = stem if attempt == 0 else f"{stem}-{attempt}"
        if (small_folder / f"{name}.png").exists():
            continue
        try:
            (folder / f"{name}{suffix}").open("xb").close()
        except FileExistsError:
            continue
        return folder / f"{name}{suffix}"
    raise FileExistsError(f"no free file name for {stem} in {folder}")
