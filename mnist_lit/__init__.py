"""mnist_lit: handwritten-digit recognition on MNIST with PyTorch Lightning.

The package, room by room (dependencies run down this list, never up):

- ``cli.py``, ``report/``, ``demo/``, ``robustness/``, ``experiments/``, ``export/``: the commands
  a user runs (``mnist-lit COMMAND``), with ``commands.py`` (what they share) and ``presets.py``
  (the packaged configs of ``configs/``, named as ``--config fast``).
- ``callbacks/``, ``viz/``, ``explain/``, ``evaluation.py``, ``training/``: what runs around the
  model while it trains or is evaluated (dashboards, EMA, progress bar, predictions CSV), the
  figures and tables, attribution maps, and the Trainer with its precision, device, checkpoints
  and run folders.
- ``models/``, ``data/``, ``numbers/``: the network and its LightningModule with their speed paths;
  MNIST, users' folders and images, preprocessing and augmentation; numbers of several digits cut
  into candidate digits (``predict --data.read number``).
- ``constants.py``, ``errors.py``, ``files.py``, ``distributed.py``: facts, exceptions and I/O
  that everything shares.

The classes below are imported on first use, so that ``python -m mnist_lit.demo`` and other
commands that need only part of the package do not wait for Lightning to load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.data.datamodule import MNISTDataModule
    from mnist_lit.models.classifier import MNISTClassifier
    from mnist_lit.models.convnet import ConvNet

__all__ = ["ConvNet", "MNISTClassifier", "MNISTDataModule"]
__version__ = "0.1.0"

__getattr__ = lazy_attributes(
    __name__,
    {
        "ConvNet": "models.convnet",
        "MNISTClassifier": "models.classifier",
        "MNISTDataModule": "data.datamodule",
    },
)
