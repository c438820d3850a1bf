"""Export: a checkpoint as one ONNX or TorchScript file that runs without this project.

- ``model.py``: ``Probabilities``, the network with its normalisation, temperature and softmax.
- ``formats.py``: that module written as an ONNX or TorchScript file, and such a file run back.
- ``command.py``: the command (``python -m mnist_lit.export``): options, files, the check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnist_lit.lazy import lazy_attributes

if TYPE_CHECKING:
    from mnist_lit.export.formats import export_onnx, export_torchscript
    from mnist_lit.export.model import Probabilities

__all__ = ["Probabilities", "export_onnx", "export_torchscript"]

__getattr__ = lazy_attributes(
    __name__,
    {"Probabilities": "model", "export_onnx": "formats", "export_torchscript": "formats"},
)
