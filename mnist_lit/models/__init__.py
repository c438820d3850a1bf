"""Models: the network, the LightningModule that trains it, and the ways to make it fast.

- ``convnet.py``: ``ConvNet``, the reference CNN as a plain ``nn.Module``.
- ``classifier.py``: ``MNISTClassifier``, the LightningModule: loss, metrics, optimiser, steps.
- ``graphs.py``: the training step captured as a CUDA graph and replayed (``cuda_graph``).
- ``layout.py``: channels-last weights where convolutions run faster that way.
- ``compiling.py``: ``torch.compile`` of the network (``compile``).
- ``resume.py``: what a resumed ``fit`` needs put right: random state, schedule, optimizer state.
- ``tta.py``: test-time augmentation, shifted copies of each image.
- ``calibration.py``: temperature scaling and the unsure threshold, kept in checkpoints.
- ``hparams.py``: the hyperparameters a user reads, without Lightning's own entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.models.classifier import MNISTClassifier
    from mnist_lit.models.convnet import ConvNet

__all__ = ["ConvNet", "MNISTClassifier"]

__getattr__ = lazy_attributes(__name__, {"ConvNet": "convnet", "MNISTClassifier": "classifier"})
