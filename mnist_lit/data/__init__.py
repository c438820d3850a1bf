"""Data: MNIST and users' own images, from files to normalised batches.

- ``datamodule.py``: ``MNISTDataModule``, the LightningDataModule every command uses.
- ``mnist.py``: fetch the four MNIST files from a mirror or the official servers, and verify them.
- ``batches.py``: batches formed on the training device from in-memory tensors (``on_device``).
- ``folders.py``: users' folders of images, listed and decoded in DataLoader workers.
- ``preprocess.py``: any image of a digit turned into what MNIST looks like.
- ``augment.py``: random affine distortions and degraded copies of whole batches, on their device.
- ``non_digits.py``: generated non-digits for training the model to say "no digit".
- ``synthetic.py``: made-up digits and tiny MNIST files, for tests and dry runs.
- ``collection.py``: the demo's growing dataset of labelled drawings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.data.datamodule import MNISTDataModule

__all__ = ["MNISTDataModule"]

__getattr__ = lazy_attributes(__name__, {"MNISTDataModule": "datamodule"})
