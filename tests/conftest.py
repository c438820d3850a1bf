"""Shared fixtures: tiny synthetic MNIST files (no network) and the real MNIST mirror when present."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mnist_lit import fetch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "default.yaml")
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def make_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` learnable 28x28 uint8 "digits": class k is a bright square at its own place.

    Squares sit on a 5 x 2 grid with a random jitter of up to 2 pixels, over faint noise, so a
    small CNN tells them apart after a few epochs but not before training.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        row, col = 3 + 12 * (label // 5), 1 + 5 * (label % 5)
        dy, dx = rng.integers(-2, 3, size=2)
        r, c = max(row + dy, 0), max(col + dx, 0)
        image[r : r + 8, c : c + 5] = 255
    return images, labels.astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format of the MNIST files."""
    magic = 0x0800 | array.ndim
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@dataclass
class TinyMNIST:
    """A mirror folder of tiny MNIST files whose checksums the fetch code accepts."""

    mirror: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyMNIST:
    """Write 600 training and 200 test synthetic digits as MNIST files (train gzipped, test not)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    train_images, train_labels = make_digits(600, seed=1)
    test_images, test_labels = make_digits(200, seed=2)
    contents = {
        "train-images-idx3-ubyte": idx_bytes(train_images),
        "train-labels-idx1-ubyte": idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": idx_bytes(test_images),
        "t10k-labels-idx1-ubyte": idx_bytes(test_labels),
    }
    for name, content in contents.items():
        if name.startswith("train"):
            (mirror / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (mirror / name).write_bytes(content)
        monkeypatch.setitem(fetch.FILES, name, hashlib.md5(content).hexdigest())
    return TinyMNIST(mirror, train_images, train_labels, test_images, test_labels)


@pytest.fixture
def real_mnist() -> Path:
    """The real MNIST files in ``../shared/data/mnist``; skips the test when they are absent."""
    if not all((SHARED_MNIST / f"{name}.gz").is_file() for name in fetch.FILES):
        pytest.skip(f"real MNIST not found in {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture(autouse=True)
def plain_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide pytest's own arguments from LightningCLI, which reads sys.argv when given args too."""
    monkeypatch.setattr("sys.argv", ["mnist_lit"])
