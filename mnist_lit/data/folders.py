"""Users' own images from folders: listing, decoding in DataLoader workers, and bad files.

    python -m mnist_lit predict --config configs/default.yaml --ckpt_path best --data.predict_dir my_digits/
    python -m mnist_lit test    --config configs/default.yaml --ckpt_path best --data.custom_dir labelled/

A folder to predict is read recursively. A labelled folder holds one subfolder per digit (``0/`` …
``9/``, the ImageFolder layout). A file that cannot be used (empty, truncated, not an image, too
large, blank) does not stop the run: its batch carries it as a failure with the reason, beside the
images that worked.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from mnist_lit.constants import CLASS_NAMES, IMAGE_SIZE
from mnist_lit.data.preprocess import MAX_PIXELS, MAX_SECONDS, READ_FORMATS, ImageError, load_digit
from mnist_lit.errors import ConfigError

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
"""What a dataset of image files gives for one file."""
ReadT = TypeVar("ReadT")
"""What reading one file makes of it."""

UNLABELLED = -1
"""Label of an image whose digit is not known (a folder to predict)."""

MAX_NAME_BYTES = 255
"""Longest file name most file systems take (bytes); longer saved copies get a shortened name."""

MAX_DEPTH = 64
"""Folders nested deeper than this under the folder read are not entered: each is one failed row
(listing is not recursive, so no depth can end the run, but no real collection is this deep)."""


def image_extensions() -> frozenset[str]:
    """File name endings of the formats read (``.png``, ``.jpg``, ``.webp``, ...; ``READ_FORMATS``)."""
    Image.init()
    return frozenset(
        ext
        for ext, fmt in Image.registered_extensions().items()
        if fmt in (*READ_FORMATS, "MPO")  # Pillow opens MPO files as JPEG
    )


class Listing(NamedTuple):
    """Image files found under a folder."""

    files: list[str]
    """Paths relative to the folder, with ``/`` separators, sorted."""
    labels: list[int]
    """Digit of each file, or ``UNLABELLED``."""
    skipped: int
    """Files passed over because their name is not an image's (``.txt``, ``.DS_Store``, ...)."""
    errors: dict[str, str]
    """Entries of ``files`` that are not read, with the reason (folders nested too deep)."""


def list_images(root: str | Path, what: str = "predict_dir") -> Listing:
    """Find every image file under ``root``, recursively; hidden files and folders are skipped.

    Args:
        root: Folder to search.
        what: Name of the option that gave ``root``, for error messages.

    Raises:
        ConfigError: ``root`` is not a folder, or holds no image file.

    """
    folder = _folder(root, what)
    files, skipped, errors = walk_images(folder)
    if not files:
        raise ConfigError(f"{what} {folder} holds no image files ({skipped} other files)")
    return Listing(files, [UNLABELLED] * len(files), skipped, errors)


def list_labelled(root: str | Path, what: str = "custom_dir") -> Listing:
    """Find the images of a labelled folder: subfolders ``0/`` … ``9/`` named by their digit.

    Digits without a subfolder are allowed; images are found recursively inside each one.

    Raises:
        ConfigError: ``root`` is not a folder, has a subfolder that is not a digit or images
            outside the digit subfolders, or holds no image at all.

    """
    folder = _folder(root, what)
    files: list[str] = []
    labels: list[int] = []
    skipped = 0
    errors: dict[str, str] = {}
    extensions = image_extensions()
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in CLASS_NAMES:
                raise ConfigError(
                    f"{what} {folder}: subfolder {entry.name!r} is not a digit; a labelled "
                    "folder holds one subfolder per digit, 0/ to 9/"
                )
            found, passed, refused = walk_images(Path(entry.path), MAX_DEPTH - 1)
            files += [f"{entry.name}/{name}" for name in found]
            labels += [int(entry.name)] * len(found)
            skipped += passed
            errors.update({f"{entry.name}/{name}": why for name, why in refused.items()})
        elif Path(entry.name).suffix.lower() in extensions:
            raise ConfigError(
                f"{what} {folder}: image {entry.name!r} is not in a digit subfolder (0/ to 9/), "
                "so its label is unknown; move it, or use predict_dir for unlabelled images"
            )
        else:
            skipped += 1
    if not files:
        raise ConfigError(f"{what} {folder} holds no images in subfolders 0/ to 9/")
    return Listing(files, labels, skipped, errors)


def _folder(root: str | Path, what: str) -> Path:
    folder = Path(root).expanduser()
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"{what} {folder} {problem}")
    return folder


def walk_images(folder: Path, max_depth: int = MAX_DEPTH) -> tuple[list[str], int, dict[str, str]]:
    """List the image files under ``folder``, without recursion and without following links.

    Returns:
        The relative paths of the image files and of the folders nested deeper than
        ``max_depth`` (``a/b/``, not entered), sorted; the count of other files; and the reason
        each of those folders was not read. Links to folders are not followed (no loops); a
        folder that cannot be listed is one of the refused, with the reason.

    """
    extensions = image_extensions()
    files: list[str] = []
    errors: dict[str, str] = {}
    skipped = 0
    pending = [(folder, "", 0)]  # (folder, its path relative to the root with "/", depth)
    while pending:
        current, relative, depth = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as err:
            if not relative:
                raise
            errors[relative] = f"folder cannot be read: {err.strerror or err}"
            continue
        for entry in entries:
            if _links_to_folder(entry):  # not followed, not counted (as os.walk)
                continue
            folder_entry = _is_folder(entry)
            if entry.name.startswith("."):
                skipped += not folder_entry
            elif folder_entry:
                path = f"{relative}{entry.name}/"
                if depth + 1 > max_depth:
                    errors[path] = f"folder nested more than {max_depth} levels deep: not read"
                else:
                    pending.append((Path(entry.path), path, depth + 1))
            elif Path(entry.name).suffix.lower() in extensions:
                files.append(relative + entry.name)
            else:
                skipped += 1
    return sorted([*files, *errors]), skipped, errors


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether an entry is a folder itself, not a link to one."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _links_to_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink() and entry.is_dir()
    except OSError:  # a dangling or looping link: a file name like any other
        return False


class FolderItem(NamedTuple):
    """One file, decoded: its pixels (zeros if it failed), label, name and failure reason."""

    image: Tensor
    label: int
    name: str
    error: str


class FolderBatch(NamedTuple):
    """A batch of files: the usable images, and the files that failed with their reasons."""

    images: Tensor
    """``(B, 1, 28, 28)`` uint8 (normalised float32 once on the device)."""
    labels: Tensor
    """``(B,)`` int64 digits, ``UNLABELLED`` (-1) where unknown."""
    names: list[str]
    """Relative path of each image."""
    failures: list[tuple[str, int, str]]
    """``(name, label, reason)`` of each file that could not be used."""


class ImageFiles(Dataset[ItemT]):
    """Image files of a listing, read on access (in DataLoader workers): the common part.

    Args:
        root: Folder the names are relative to.
        listing: The files and their labels, from ``list_images`` or ``list_labelled``.
        max_pixels: Refuse images with more pixels than this (decompression bombs).
        max_seconds: Stop decoding a file after this long (decode bombs): its row says so.

    """

    def __init__(
        self,
        root: str | Path,
        listing: Listing,
        max_pixels: int = MAX_PIXELS,
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        self.root = Path(root)
        self.files = listing.files
        self.labels = listing.labels
        self.errors = listing.errors
        self.max_pixels = max_pixels
        self.max_seconds = max_seconds

    def __len__(self) -> int:
        return len(self.files)

    def read(self, index: int, reader: Callable[[Path], ReadT]) -> tuple[ReadT | None, str]:
        """Return ``reader(path)`` of file ``index``, or ``None`` and why it cannot be used.

        Whatever reading a file raises becomes its one-line reason: one odd file must not
        end the run. A file the listing already refused (a folder nested too deep) is not read.
        """
        error = self.errors.get(self.files[index], "")
        if error:
            return None, error
        try:
            return reader(self.root / self.files[index]), ""
        except ImageError as err:
            return None, str(err)
        except Exception as err:
            return None, f"{type(err).__name__}: {err}"


class FolderImages(ImageFiles[FolderItem]):
    """Image files decoded and made MNIST-like on access (in DataLoader workers).

    Args:
        root: Folder the names are relative to.
        listing: The files and their labels, from ``list_images`` or ``list_labelled``.
        save_dir: If set, write each 28x28 image the model sees there, as PNG under the same
            relative path (a name too long for the file system is shortened, with a hash of
            it). It must be apart from ``root``: neither inside the other, so that no copy can
            overwrite an original. A copy that cannot be written is a warning; the image is
            still read.
        max_pixels: Refuse images with more pixels than this (decompression bombs).
        max_seconds: Stop decoding a file after this long (decode bombs): its row says so.

    """

    def __init__(
        self,
        root: str | Path,
        listing: Listing,
        save_dir: str | Path | None = None,
        max_pixels: int = MAX_PIXELS,
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        super().__init__(root, listing, max_pixels, max_seconds)
        if save_dir is not None:
            check_apart(Path(save_dir), self.root)
        self.save_dir = None if save_dir is None else Path(save_dir)

    def __getitem__(self, index: int) -> FolderItem:
        name = self.files[index]
        pixels, error = self.read(
            index, lambda path: load_digit(path, self.max_pixels, self.max_seconds)
        )
        if pixels is None:
            pixels = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        elif self.save_dir is not None:
            self._save(name, pixels)
        return FolderItem(torch.from_numpy(pixels).unsqueeze(0), self.labels[index], name, error)

    def _save(self, name: str, pixels: np.ndarray) -> None:
        assert self.save_dir is not None
        target = self.save_dir / saved_name(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(target)
        except (OSError, ValueError) as err:
            log.warning(f"Could not save the 28x28 copy of {name} as {target}: {err}")


def saved_name(name: str) -> str:
    """Return the relative path of a file's 28x28 copy: ``.png`` appended, shortened if too long."""
    folder, _, file_name = name.rpartition("/")
    if not file_name.lower().endswith(".png"):
        file_name += ".png"
    raw = os.fsencode(file_name)  # the bytes the file system counts (names need not be UTF-8)
    if len(raw) > MAX_NAME_BYTES:
        digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:12]
        keep = os.fsdecode(raw[: MAX_NAME_BYTES - 20])
        file_name = f"{keep}-{digest}.png"
    return f"{folder}/{file_name}" if folder else file_name


def check_apart(save_dir: Path, root: Path) -> None:
    """Refuse an output folder that is, holds or lies inside the folder read.

    Raises:
        ConfigError: ``save_dir`` and ``root`` overlap: a copy could overwrite an original.

    """
    out, read = save_dir.expanduser().resolve(), root.expanduser().resolve()
    if out == read or read in out.parents or out in read.parents:
        raise ConfigError(
            f"save_preprocessed {save_dir} overlaps the folder read, {root}: the 28x28 copies "
            "could overwrite the images; choose a folder outside it"
        )


def collate_folder(items: Sequence[FolderItem]) -> FolderBatch:
    """Stack the usable images of ``items``; list the failed files apart, with their reasons."""
    good = [item for item in items if not item.error]
    images = (
        torch.stack([item.image for item in good])
        if good
        else torch.zeros(0, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    )
    return FolderBatch(
        images=images,
        labels=torch.tensor([item.label for item in good], dtype=torch.long),
        names=[item.name for item in good],
        failures=[(item.name, item.label, item.error) for item in items if item.error],
    )
