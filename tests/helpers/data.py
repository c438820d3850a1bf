"""Tiny made-up MNIST files the fetch code accepts, and the real files when they are there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mnist_lit.data import mnist as fetch
from mnist_lit.data.synthetic import make_digits, write_mnist_files

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
"""The real MNIST files beside the repository (``../shared/data/mnist``), when present."""


@dataclass
class TinyMNIST:
    """A mirror folder of tiny MNIST files whose checksums the fetch code accepts."""

    mirror: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    checksums: dict[str, str]


def write_tiny_mnist(
    mirror: Path, monkeypatch: pytest.MonkeyPatch, train: int = 600, test: int = 200
) -> TinyMNIST:
    """Write ``train`` and ``test`` made-up digits as MNIST files (train gzipped, test not).

    Their checksums are put in ``fetch.FILES`` through ``monkeypatch``, as the real ones are.
    """
    checksums = write_mnist_files(mirror, train=train, test=test, compress_test=False)
    for name, md5 in checksums.items():
        monkeypatch.setitem(fetch.FILES, name, md5)
    train_images, train_labels = make_digits(train, seed=1)
    test_images, test_labels = make_digits(test, seed=2)
    return TinyMNIST(mirror, train_images, train_labels, test_images, test_labels, checksums)


@dataclass
class TrainedModel:
    """A model trained on tiny data."""

    run_dir: Path
    """Its run folder (``lightning_logs/version_0``)."""
    best: Path
    """Its best checkpoint."""


class FakeTrainer:
    """What the datamodule asks of a Trainer to split data across processes."""

    def __init__(self, world_size: int, global_rank: int) -> None:
        self.world_size, self.global_rank = world_size, global_rank
