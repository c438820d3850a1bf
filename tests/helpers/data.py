"""Tiny made-up MNIST files the fetch code accepts, and the real files when they are there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mnist_lit.data import mnist as fetch
from mnist_lit.data.synthetic import idx_bytes, make_digits, write_mnist_files

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
"""The real MNIST files beside the repository (``../shared/data/mnist``), when present."""

TEST_LABELS = "t10k-labels-idx1-ubyte"


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


def relabel_test_images(
    tiny: TinyMNIST, labels: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> TinyMNIST:
    """Give the test images of ``tiny`` other labels, e.g. to make chosen answers wrong."""
    content = idx_bytes(np.asarray(labels, dtype=np.uint8))
    (tiny.mirror / TEST_LABELS).write_bytes(content)
    checksums = {**tiny.checksums, TEST_LABELS: hashlib.md5(content).hexdigest()}
    monkeypatch.setitem(fetch.FILES, TEST_LABELS, checksums[TEST_LABELS])
    tiny.test_labels = np.asarray(labels, dtype=np.uint8)
    tiny.checksums = checksums
    return tiny


@dataclass
class TrainedModel:
    """A model trained on tiny data, and what it answers on the tiny test set."""

    run_dir: Path
    """Its run folder (``lightning_logs/version_0``)."""
    best: Path
    """Its best checkpoint."""
    predictions: list[dict[str, str]]
    """The rows ``predict --ckpt_path best`` wrote for the 200 test images, in their order."""


@dataclass
class Mistakes:
    """The tiny test set labelled so that a trained model is right on every image but a chosen few."""

    tiny: TinyMNIST
    """The tiny files, test labels replaced."""
    predicted: np.ndarray
    """``(200,)`` the model's answer for each test image."""
    confidence: np.ndarray
    """``(200,)`` its probability of that answer."""
    wrong: list[int]
    """The images whose label is not the model's answer, the most confident answer first."""

    @property
    def right(self) -> int:
        """How many answers are right."""
        return len(self.predicted) - len(self.wrong)


def make_mistakes(
    tiny: TinyMNIST, model: TrainedModel, monkeypatch: pytest.MonkeyPatch, count: int = 7
) -> Mistakes:
    """Label the test images of ``tiny`` with ``model``'s answers, except ``count`` of them.

    Those get the next digit as label: answers of ``count`` digits, of confidences at least 0.001
    apart (so that "most confident first" has one order), are wrong, and the number of images of
    those digits differs from the number of answers of them (so that accuracy per true digit and
    per answered digit differ).
    """
    predicted = np.array([int(row["prediction"]) for row in model.predictions])
    confidence = np.array([float(row["confidence"]) for row in model.predictions])
    wrong: list[int] = []
    for i, (digit, sure) in enumerate(zip(predicted, confidence, strict=True)):
        if len(wrong) < count and all(
            digit != predicted[j] and abs(sure - confidence[j]) > 1e-3 for j in wrong
        ):
            wrong.append(i)
    assert len(wrong) == count, "not enough distinct answers to make mistakes of"
    labels = predicted.copy()
    labels[wrong] = (predicted[wrong] + 1) % 10
    relabel_test_images(tiny, labels, monkeypatch)
    wrong.sort(key=lambda i: -confidence[i])
    return Mistakes(tiny, predicted, confidence, wrong)


class FakeTrainer:
    """What the datamodule asks of a Trainer to split data across processes."""

    def __init__(self, world_size: int, global_rank: int) -> None:
        self.world_size, self.global_rank = world_size, global_rank
