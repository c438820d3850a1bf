"""Find and check checkpoints: ``--ckpt_path best|last|PATH`` in a new process."""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from mnist_lit.errors import CheckpointError

BEST_PREFIX = "best-"
"""File-name prefix of the best checkpoint by ``val/acc`` (see the CLI's checkpoint defaults)."""

LAST_NAME = "last.ckpt"


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


def public_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Return the hyperparameters without the keys LightningCLI adds (``_instantiator``, ...)."""
    return {key: value for key, value in hparams.items() if not key.startswith("_")}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (tensors and plain types only, no code is run).

    Raises:
        CheckpointError: The file cannot be read that way or is not a Lightning checkpoint.

    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint: not a file written by fit, truncated, or "
            f"saved with objects that are not plain weights ({type(err).__name__})"
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (it has no state_dict)")
    return ckpt
