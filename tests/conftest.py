"""Shared fixtures: tiny synthetic MNIST files (no network) and the real MNIST mirror when present."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mnist_lit.data import mnist as fetch
from mnist_lit.data.synthetic import make_digits, write_mnist_files

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "default.yaml")
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@dataclass
class TinyMNIST:
    """A mirror folder of tiny MNIST files whose checksums the fetch code accepts."""

    mirror: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    checksums: dict[str, str]


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyMNIST:
    """Write 600 training and 200 test synthetic digits as MNIST files (train gzipped, test not)."""
    mirror = tmp_path / "mirror"
    checksums = write_mnist_files(mirror, train=600, test=200, compress_test=False)
    for name, md5 in checksums.items():
        monkeypatch.setitem(fetch.FILES, name, md5)
    train_images, train_labels = make_digits(600, seed=1)
    test_images, test_labels = make_digits(200, seed=2)
    return TinyMNIST(mirror, train_images, train_labels, test_images, test_labels, checksums)


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
