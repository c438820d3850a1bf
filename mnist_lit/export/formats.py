"""Write ``Probabilities`` as an ONNX or TorchScript file, and run such a file back.

    export_onnx(module, Path("model.onnx"), {"temperature": "1.3"})
    probabilities = run_file(Path("model.onnx"), "onnx", pixels)  # (N, 1, 28, 28) -> (N, 10)

Both files have one input, ``pixels``, and one output, ``probabilities`` (``model.py``), with any
batch size, and carry ``metadata`` (strings): in the ONNX file's ``metadata_props``, in the
TorchScript file's extra file ``mnist_lit.json``. ONNX needs the ``export`` extra (onnx, to check
the file and add the metadata; onnxruntime, to run it); TorchScript needs PyTorch alone.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np
import torch
from torch import nn

from mnist_lit.constants import IMAGE_SIZE
from mnist_lit.errors import MissingExtraError
from mnist_lit.export.model import INPUT_NAME, OUTPUT_NAME
from mnist_lit.files import atomic_write

Format = Literal["onnx", "torchscript"]

SUFFIXES: dict[Format, str] = {"onnx": ".onnx", "torchscript": ".pt"}
"""File-name ending of each format."""

NAMES: dict[Format, str] = {"onnx": "ONNX", "torchscript": "TorchScript"}

OPSET = 17
"""ONNX opset of the file: onnxruntime 1.12 (2022) and later run it."""

METADATA_FILE = "mnist_lit.json"
"""The TorchScript file's extra file holding the metadata (``torch.jit.load(_extra_files=...)``)."""

INSTALL_HINT = (
    "--format onnx needs onnx and onnxruntime: pip install 'mnist_lit[export]' "
    "(pip install -e '.[export]' in a clone)"
)


def _onnx() -> tuple[ModuleType, ModuleType]:
    """Return the ``onnx`` and ``onnxruntime`` modules.

    Raises:
        MissingExtraError: One of them is not installed.

    """
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise MissingExtraError(INSTALL_HINT) from err
    return onnx, onnxruntime


def export_onnx(module: nn.Module, path: Path, metadata: Mapping[str, str]) -> None:
    """Write ``module`` (in eval mode) as an ONNX file with a dynamic batch size.

    Raises:
        MissingExtraError: onnx or onnxruntime is not installed.
        OutputError: ``path`` cannot be written.

    """
    onnx, _ = _onnx()
    example = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)  # the batch size stays free (dynamic_axes)
    with tempfile.TemporaryDirectory() as work, warnings.catch_warnings():
        # The TorchScript-based exporter (deprecated, not the default since torch 2.9): it needs no
        # onnxscript and turns this network's few ops into plain ONNX with a dynamic batch.
        warnings.simplefilter("ignore", DeprecationWarning)
        plain = Path(work) / "model.onnx"
        torch.onnx.export(
            module,
            (example,),
            plain,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}},
            opset_version=OPSET,
        )
        model = onnx.load(plain)
    onnx.helper.set_model_props(model, dict(metadata))
    onnx.checker.check_model(model)
    with atomic_write(path, "wb") as file:
        file.write(model.SerializeToString())


def export_torchscript(module: nn.Module, path: Path, metadata: Mapping[str, str]) -> None:
    """Write ``module`` (in eval mode) as a TorchScript file, loadable with ``torch.jit.load``.

    Raises:
        OutputError: ``path`` cannot be written.

    """
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch.jit warns that it is deprecated (torch 2.14), but it is still the format PyTorch
        # and LibTorch (C++) load without the model's code, which the issue asks for
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(module)  # scripted, not traced: no batch size is baked in
        torch.jit.save(scripted, buffer, _extra_files={METADATA_FILE: json.dumps(dict(metadata))})
    with atomic_write(path, "wb") as file:
        file.write(buffer.getvalue())


def export_file(module: nn.Module, path: Path, fmt: Format, metadata: Mapping[str, str]) -> None:
    """Write ``module`` to ``path`` in format ``fmt`` (``export_onnx`` or ``export_torchscript``)."""
    if fmt == "onnx":
        export_onnx(module, path, metadata)
    else:
        export_torchscript(module, path, metadata)


def run_file(path: Path, fmt: Format, pixels: np.ndarray) -> np.ndarray:
    """Run an exported file on the CPU: ``(N, 1, 28, 28)`` float32 pixels to ``(N, 10)`` probabilities.

    ONNX runs in onnxruntime, TorchScript through ``torch.jit.load``, as a user of the file would.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if fmt == "onnx":
        _, onnxruntime = _onnx()
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out: np.ndarray = session.run([OUTPUT_NAME], {INPUT_NAME: pixels})[0]
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation, as above
        scripted = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        result: np.ndarray = scripted(torch.from_numpy(pixels)).numpy()
    return result
