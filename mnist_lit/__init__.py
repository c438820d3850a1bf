"""mnist_lit: handwritten-digit recognition on MNIST with PyTorch Lightning."""

from mnist_lit.data import MNISTDataModule
from mnist_lit.model import MNISTClassifier
from mnist_lit.nets import ConvNet

__all__ = ["ConvNet", "MNISTClassifier", "MNISTDataModule"]
__version__ = "0.1.0"
