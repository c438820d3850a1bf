"""Shared fixtures: tiny synthetic MNIST files (no network) and the real MNIST mirror when present.

Helpers live in ``tests/helpers/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lit.data import mnist as fetch
from tests.helpers import SHARED_MNIST, TinyMNIST, write_tiny_mnist


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyMNIST:
    """Write 600 training and 200 test synthetic digits as MNIST files (train gzipped, test not)."""
    return write_tiny_mnist(tmp_path / "mirror", monkeypatch)


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
