"""Write a checkpoint as one ONNX or TorchScript file that runs without this project.

    python -m mnist_lit.export --ckpt_path best --format onnx
    python -m mnist_lit.export --ckpt_path best --format torchscript --out model.pt

The file maps ``pixels`` to ``probabilities`` (``model.py``): the checkpoint's normalisation,
network, temperature and softmax are inside. Written by default to ``export/<checkpoint>.onnx``
(or ``.pt``) in the checkpoint's run folder. Once written, the file is run back (onnxruntime,
``torch.jit.load``) on generated images and compared with ``predict_step``: the command prints the
largest difference and stops with an error if it is over ``TOLERANCE``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from jsonargparse import ArgumentParser

from mnist_lit.commands import command_name, parse_or_fail, user_errors
from mnist_lit.data.preprocess import normalize
from mnist_lit.data.synthetic import make_digits
from mnist_lit.errors import ConfigError
from mnist_lit.export.formats import NAMES, SUFFIXES, Format, export_file, run_file
from mnist_lit.export.model import INPUT, INPUT_NAME, OUTPUT, OUTPUT_NAME, Probabilities
from mnist_lit.models.calibration import NOT_CALIBRATED_NOTE
from mnist_lit.training.checkpoints import (
    add_checkpoint_arguments,
    load_checkpoint,
    model_from_checkpoint,
    resolve_checkpoint,
)

if TYPE_CHECKING:
    from mnist_lit.models.classifier import MNISTClassifier

PROG = "mnist_lit.export"
"""The start of its error messages."""

TOLERANCE = 1e-5
"""Largest difference allowed between the file's probabilities and ``predict_step``'s."""

CHECK_IMAGES = 64
"""Generated images the written file is checked on (``data.synthetic.make_digits``)."""


@dataclass(frozen=True)
class Export:
    """An exported file and what was measured on it."""

    path: Path
    format: Format
    checkpoint: Path
    metadata: dict[str, str]
    """What the file carries besides the model: see ``metadata``."""
    seconds: float
    """Time to build and write the file."""
    difference: float
    """Largest difference between its probabilities and ``predict_step``'s on ``CHECK_IMAGES``."""


def default_out(checkpoint: Path, fmt: Format) -> Path:
    """Return ``export/<checkpoint name>.onnx`` (or ``.pt``) in the run folder of ``checkpoint``.

    The run folder is the one holding ``checkpoints/``; a checkpoint elsewhere gets ``export/``
    beside it.
    """
    run_dir = (
        checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    )
    return run_dir / "export" / f"{checkpoint.stem}{SUFFIXES[fmt]}"


def metadata(model: MNISTClassifier, checkpoint: Path) -> dict[str, str]:
    """Return the facts an exported file carries, as strings.

    Its input and output, the numbers inside it, and the unsure threshold (empty for a
    checkpoint without calibration).
    """
    calibration = model.calibration
    return {
        "checkpoint": checkpoint.name,
        "input": f"{INPUT_NAME}: {INPUT}",
        "output": f"{OUTPUT_NAME}: {OUTPUT}",
        "mean": repr(float(model.hparams["mean"])),
        "std": repr(float(model.hparams["std"])),
        "temperature": repr(calibration.temperature) if calibration else "1.0",
        "unsure_below": repr(calibration.threshold) if calibration else "",
    }


def export_checkpoint(
    ckpt_path: str,
    fmt: Format,
    out: str | Path | None = None,
    logs: str | Path = "lightning_logs",
) -> Export:
    """Export a checkpoint's plain reading as one file and check it against ``predict_step``.

    Args:
        ckpt_path: ``best``, ``last`` (newest run under ``logs``) or a ``.ckpt`` file.
        fmt: ``onnx`` or ``torchscript``.
        out: The file to write, or an existing folder to write it into; ``None`` is
            ``default_out``. Its folders are created.
        logs: Folder holding the run folders, to find ``best`` and ``last``.

    Raises:
        CheckpointError: No such checkpoint, or not one of this project's models.
        ConfigError: ``out`` would write over the checkpoint or another ``.ckpt`` file.
        MissingExtraError: ``onnx`` without the ``export`` extra.
        OutputError: The file cannot be written.
        RuntimeError: The written file disagrees with ``predict_step`` (a bug).

    """
    checkpoint = resolve_checkpoint(ckpt_path, logs)
    model = model_from_checkpoint(load_checkpoint(checkpoint), checkpoint)
    path = _target(out, checkpoint, fmt)
    facts = metadata(model, checkpoint)
    start = time.perf_counter()
    export_file(Probabilities.from_classifier(model), path, fmt, facts)
    seconds = time.perf_counter() - start
    difference = _check(model, path, fmt)
    return Export(path, fmt, checkpoint, facts, seconds, difference)


def _target(out: str | Path | None, checkpoint: Path, fmt: Format) -> Path:
    """Return the file to write: ``out``, a file in ``out`` if it is a folder, or ``default_out``."""
    if out is None:
        return default_out(checkpoint, fmt)
    path = Path(out)
    if path.is_dir():
        path = path / f"{checkpoint.stem}{SUFFIXES[fmt]}"
    if path.exists() and path.resolve() == checkpoint.resolve():
        raise ConfigError(f"--out {out} is the checkpoint itself; give another file name")
    if path.suffix == ".ckpt":
        raise ConfigError(
            f"--out {out}: an exported model is not a checkpoint; name it {path.stem}"
            f"{SUFFIXES[fmt]} so that no checkpoint is written over"
        )
    return path


def _check(model: MNISTClassifier, path: Path, fmt: Format) -> float:
    """Run the file on generated images and return its largest difference from ``predict_step``."""
    images, _ = make_digits(CHECK_IMAGES, seed=0)  # (n, 28, 28) uint8, light on dark
    pixels = torch.from_numpy(images)[:, None]  # (n, 1, 28, 28)
    with torch.inference_mode():  # as predict: uint8 -> normalised floats on the batch's way in
        batch = [normalize(pixels, model.hparams["mean"], model.hparams["std"])]
        expected = model.predict_step(batch, 0).probabilities.numpy()
    got = run_file(path, fmt, pixels.float().div(255).numpy())
    difference = float(np.abs(got - expected).max())
    if not difference <= TOLERANCE:
        raise RuntimeError(
            f"{path} gives probabilities up to {difference:.2e} away from predict's (allowed "
            f"{TOLERANCE:.0e}): a bug in mnist_lit.export, please report it"
        )
    return difference


def summary(export: Export) -> list[str]:
    """Return the lines printed after an export: where, what goes in and out, the check."""
    facts = export.metadata
    size = export.path.stat().st_size / 1e6
    runner = "onnxruntime" if export.format == "onnx" else "torch.jit.load"
    lines = [
        f"Wrote {export.path} ({NAMES[export.format]}, {size:.1f} MB) in {export.seconds:.1f} s "
        f"from {export.checkpoint}",
        f"Input  {facts['input']}",
        f"Output {facts['output']}",
        f"Inside: normalisation (mean {facts['mean']}, std {facts['std']}), the network, "
        f"temperature {float(facts['temperature']):.4f}, softmax; no test-time augmentation",
    ]
    if facts["unsure_below"]:
        lines.append(
            f"Unsure: a reading whose highest probability is below "
            f"{float(facts['unsure_below']):.4f} (the checkpoint's threshold; in the file's "
            "metadata as unsure_below)"
        )
    else:
        lines.append(f"Note: {NOT_CALIBRATED_NOTE}")
    lines.append(
        f"Checked: the file's probabilities ({runner}) are within {export.difference:.1e} of "
        f"predict's on {CHECK_IMAGES} generated images"
    )
    return lines


def build_parser() -> ArgumentParser:
    """Build the command line: checkpoint, format, output file."""
    parser = ArgumentParser(
        prog=command_name("export", "mnist_lit.export"),
        description="Write a checkpoint as one ONNX or TorchScript file that runs without "
        f"mnist_lit or Lightning. Input {INPUT_NAME!r}: {INPUT}. Output {OUTPUT_NAME!r}: "
        f"{OUTPUT}. The normalisation, the network, the temperature and the softmax are inside "
        "the file; test-time augmentation (--model.tta) is not. See docs/export.md.",
        exit_on_error=False,
    )
    add_checkpoint_arguments(parser, default="best")
    parser.add_argument(
        "--format",
        type=Format,
        required=True,
        help="onnx (run it with onnxruntime; needs pip install 'mnist_lit[export]') or "
        "torchscript (run it with torch.jit.load, in Python or C++).",
    )
    parser.add_argument(
        "--out",
        type=str | None,
        default=None,
        help="File to write (or a folder to write it into); its folders are created. Default: "
        "export/<checkpoint name>.onnx or .pt in the checkpoint's run folder "
        "(lightning_logs/version_N/export/). Never a .ckpt file.",
    )
    return parser


def main(args: Sequence[str] | None = None) -> None:
    """Parse the command line, export and say what was written; mistakes are one-line errors."""
    parser = build_parser()
    config = parse_or_fail(parser, args, PROG)
    with user_errors(PROG):
        export = export_checkpoint(config.ckpt_path, config.format, config.out, config.logs)
    print("\n".join(summary(export)), flush=True)


def entry_point() -> None:
    """Console script ``mnist-lit-export``."""
    main()
