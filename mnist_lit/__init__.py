"""mnist_lit: handwritten-digit recognition on MNIST with PyTorch Lightning.

The classes below are imported on first use, so that ``python -m mnist_lit.demo`` and other
commands that need only part of the package do not wait for Lightning to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mnist_lit.data import MNISTDataModule
    from mnist_lit.model import MNISTClassifier
    from mnist_lit.nets import ConvNet

__all__ = ["ConvNet", "MNISTClassifier", "MNISTDataModule"]
__version__ = "0.1.0"

_HOMES = {"ConvNet": "nets", "MNISTClassifier": "model", "MNISTDataModule": "data"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"mnist_lit.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'mnist_lit' has no attribute {name!r}")
