"""Find and check checkpoints: ``--ckpt_path best|last|PATH`` in a new process."""

from __future__ import annotations

import inspect
import math
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jsonargparse import ArgumentParser

from mnist_lit.errors import CheckpointError
from mnist_lit.models.hparams import public_hparams

if TYPE_CHECKING:
    from mnist_lit.models.classifier import MNISTClassifier
    from mnist_lit.models.convnet import ConvNet


BEST_PREFIX = "best-"
"""File-name prefix of the best checkpoint by ``val/acc`` (see the CLI's checkpoint defaults)."""

LAST_NAME = "last.ckpt"


def add_checkpoint_arguments(parser: ArgumentParser, default: str | None = None) -> None:
    """Add ``--ckpt_path`` (required when ``default`` is None) and ``--logs`` to a command line.

    For the commands besides LightningCLI that load a checkpoint (the report, the demo).
    """
    parser.add_argument(
        "--ckpt_path",
        type=str,
        required=default is None,
        default=default,
        help="'best' or 'last' (the newest run under --logs) or the path of a .ckpt file.",
    )
    parser.add_argument(
        "--logs",
        type=str,
        default="lightning_logs",
        help="Folder holding the run folders (version_N/), where best and last are looked for.",
    )


def resolve_checkpoint(spec: str, log_root: str | Path) -> Path:
    """Turn ``best``, ``last`` or a path into an existing checkpoint file.

    ``best`` and ``last`` look in the newest run under ``log_root`` that has checkpoints (runs are
    ``log_root/<version>/checkpoints/``; the newest is the one that saved last). ``best`` is its
    ``best-*.ckpt`` with the highest ``val_acc`` in the name; a run without validation has none,
    and ``best`` then falls back to its ``last.ckpt``.

    Args:
        spec: ``"best"``, ``"last"`` or a path to a ``.ckpt`` file.
        log_root: Folder holding the run folders, e.g. ``lightning_logs``.

    Raises:
        CheckpointError: Nothing matches; the message says where it looked.

    """
    if spec not in ("best", "last"):
        path = Path(spec)
        if path.is_dir():
            raise CheckpointError(f"checkpoint {spec} is a folder; give the path of a .ckpt file")
        if not path.is_file():
            raise CheckpointError(f"checkpoint {spec} does not exist")
        return path
    runs = [d for d in Path(log_root).glob("*/checkpoints") if any(d.glob("*.ckpt"))]
    if not runs:
        raise CheckpointError(
            f"--ckpt_path {spec}: no checkpoints under {log_root}/*/checkpoints/; "
            "run fit first or pass the path of a .ckpt file"
        )
    newest = max(runs, key=lambda d: max(f.stat().st_mtime for f in d.glob("*.ckpt")))
    best = [(_val_acc(f), f.stat().st_mtime, f) for f in newest.glob(f"{BEST_PREFIX}*.ckpt")]
    if spec == "best" and best:
        return max(best)[2]
    last = newest / LAST_NAME
    if not last.is_file():
        raise CheckpointError(f"--ckpt_path {spec}: {newest} has no {LAST_NAME}")
    return last


def _val_acc(path: Path) -> float:
    match = re.search(r"val_acc=([0-9.]+?)\.ckpt$", path.name)
    return float(match.group(1)) if match else -1.0


def load_checkpoint(
    path: str | Path, map_location: Any = "cpu", lightning: bool = True
) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (tensors and plain types only, no code is run).

    Args:
        path: The ``.ckpt`` file.
        map_location: Where to put the tensors (``torch.load``'s argument); the CPU by default.
        lightning: Require a Lightning checkpoint (a dict with a ``state_dict``). ``False``
            accepts any plain-data file, such as the bare weights Lightning's spawn launcher
            passes between processes.

    Raises:
        CheckpointError: The file is missing or unreadable, cannot be read that way, or is not
            a Lightning checkpoint; the message names it.

    """
    if Path(path).is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; give the path of a .ckpt file")
    try:
        ckpt: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as err:  # missing, unreadable (permissions), an I/O error
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from err
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint: not a file written by fit, truncated, or "
            f"saved with objects that are not plain weights ({type(err).__name__})"
        ) from err
    if lightning and (not isinstance(ckpt, dict) or "state_dict" not in ckpt):
        raise CheckpointError(f"{path} is not a Lightning checkpoint (it has no state_dict)")
    if lightning:
        _check_normalisation(ckpt.get("hyper_parameters") or {}, path)
    return ckpt


def _check_normalisation(hparams: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a normalisation that would turn every image into NaN (a ``std`` of 0 or NaN)."""
    mean, std = hparams.get("mean", 0.0), hparams.get("std", 1.0)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mean, std))
    if not numbers or not math.isfinite(mean) or not math.isfinite(std) or std <= 0:
        raise CheckpointError(
            f"{path} has an unusable normalisation (mean {mean!r}, std {std!r}): every image "
            "would read as NaN; it is damaged or was not written by fit"
        )


def model_from_checkpoint(checkpoint: Mapping[str, Any], path: str | Path) -> MNISTClassifier:
    """Rebuild the model of a loaded checkpoint (``path`` names it in errors), in eval mode.

    The checkpoint's hyperparameters (network options, ``mean``, ``std``) rebuild the network,
    so images are normalised as in training; its calibration (``models/calibration.py``) is set
    too, or left ``None`` for a checkpoint written before calibration existed.

    Raises:
        CheckpointError: The weights do not fit the network the hyperparameters describe.

    """
    from mnist_lit.models.calibration import read_calibration
    from mnist_lit.models.classifier import (
        MNISTClassifier,  # the model module imports Lightning: load late
    )

    hparams = public_hparams(checkpoint.get("hyper_parameters", {}))
    try:
        model = MNISTClassifier(**hparams)
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not hold an mnist_lit model: {first}") from err
    model.calibration = read_calibration(checkpoint)
    return model.eval()


def network_from_checkpoint(checkpoint: Mapping[str, Any], path: str | Path) -> ConvNet:
    """Rebuild just the network of a loaded checkpoint, in eval mode, without Lightning.

    For programs that only classify (the demo): importing Lightning takes seconds, the network
    alone does not. The normalisation to use is ``checkpoint["hyper_parameters"]["mean"]``/``std``.

    Raises:
        CheckpointError: The weights do not fit the network the hyperparameters describe.

    """
    from mnist_lit.models.convnet import ConvNet

    hparams = checkpoint.get("hyper_parameters", {})
    # the model's hyperparameters that shape its ConvNet (the others are training settings)
    options = set(inspect.signature(ConvNet).parameters) - {"num_classes"}
    prefix = "net."
    weights = {
        key.removeprefix(prefix): value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(prefix)
    }
    try:
        net = ConvNet(**{key: value for key, value in hparams.items() if key in options})
        net.load_state_dict(weights)
    except (TypeError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not hold an mnist_lit model: {first}") from err
    return net.eval()
