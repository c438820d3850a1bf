"""Run folders, ``lightning_logs/version_N/``: one per run, even for runs started at the same moment.

    python -m mnist_lit fit --config configs/default.yaml   # in two terminals: version_0 and version_1

Lightning's logger picks ``version_N`` by listing the folder when it first writes, so two runs
started together from one folder both pick the same ``N`` and mix their files. Here a run claims
its folder before the Trainer exists, with ``mkdir``, which only one process can win for a
name. A ``fit --ckpt_path`` of the newest run's checkpoint goes on in that run's folder instead.

The run folder holds the run's files (checkpoints, ``config.yaml``, ``predictions.csv``) whatever
the logger. TensorBoard's and CSV's loggers write into a folder of their own, which is then the
run folder (``save_dir/name/version_N/``); loggers that keep their records elsewhere (MLflow, W&B,
...) get a claimed ``default_root_dir/lightning_logs/version_N/`` for the files, so that
``--ckpt_path best|last`` finds every run's checkpoints in the same place.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from jsonargparse import Namespace

DEFAULT_LOGGER_NAME = "lightning_logs"
"""Folder of the run folders under ``trainer.default_root_dir`` (Lightning's default logger's)."""

RUN_DIR_VARIABLE = "MNIST_LIT_RUN_DIR"
"""Environment variable naming the claimed run folder, for the processes a DDP run launches."""

VERSION_PREFIX = "version_"

FOLDER_LOGGERS = ("TensorBoardLogger", "CSVLogger")
"""Lightning's loggers that write into a run folder ``save_dir/name/version`` of their own."""


def log_root(config: Namespace) -> Path:
    """Return the folder holding the run folders of the logger a subcommand's ``config`` sets up.

    ``save_dir/name`` of a TensorBoard or CSV logger (the first, when there are several), else
    ``default_root_dir/lightning_logs``.
    """
    trainer = config.get("trainer") or Namespace()
    root = Path(trainer.get("default_root_dir") or ".")
    logger = trainer.get("logger")
    if isinstance(logger, list) and logger:
        logger = logger[0]
    if isinstance(logger, Namespace) and "init_args" in logger and keeps_folder(logger.class_path):
        init = logger.init_args
        return Path(init.get("save_dir") or root) / (init.get("name") or DEFAULT_LOGGER_NAME)
    return root / DEFAULT_LOGGER_NAME


def keeps_folder(logger: object) -> bool:
    """Whether a logger (an object, or a class path) writes into a run folder of its own."""
    if isinstance(logger, str):
        return logger.rsplit(".", 1)[-1] in FOLDER_LOGGERS
    return any(cls.__name__ in FOLDER_LOGGERS for cls in type(logger).__mro__)  # subclasses too


def version_number(run_dir: Path) -> int:
    """Return ``N`` of a run folder ``version_N`` (-1 for other names)."""
    number = run_dir.name.removeprefix(VERSION_PREFIX)
    return int(number) if run_dir.name.startswith(VERSION_PREFIX) and number.isdigit() else -1


def newest_run(root: Path) -> Path | None:
    """Return the run folder with the highest ``N`` under ``root``, or ``None``."""
    runs = [path for path in root.glob(VERSION_PREFIX + "*") if version_number(path) >= 0]
    return max(runs, key=version_number, default=None)


def claim_run_dir(root: Path) -> Path:
    """Create and return the next free ``root/version_N``; never one another process created.

    ``mkdir`` fails for all but one of the processes that ask for the same name, so each run
    started at the same moment gets a folder of its own; the losers try the next ``N``.
    """
    root.mkdir(parents=True, exist_ok=True)
    newest = newest_run(root)
    number = 0 if newest is None else version_number(newest) + 1
    while True:
        run_dir = root / f"{VERSION_PREFIX}{number}"
        try:
            run_dir.mkdir()
        except FileExistsError:
            number += 1
            continue
        return run_dir


def release_if_empty(run_dir: Path) -> None:
    """Remove a claimed run folder that the run left empty, and its parent if that is empty too.

    A run that fails before writing anything (a wrong option, a missing file) leaves no trace.
    """
    for folder in (run_dir, run_dir.parent):
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def resumable_run(checkpoint: str | Path, root: Path) -> tuple[Path | None, str]:
    """Return the run folder a ``fit --ckpt_path checkpoint`` goes on in, and why (or why not).

    The checkpoint's own run folder when it lies under ``root`` (``root/version_N/checkpoints/``)
    and no run folder is newer: one run keeps one folder and one set of checkpoints however
    often it was interrupted. Otherwise ``None``: the run gets a new folder.
    """
    path = Path(checkpoint).resolve()
    root = root.resolve()
    if path.parent.name != "checkpoints" or path.parent.parent.parent != root:
        return None, ""
    run_dir = path.parent.parent
    newest = newest_run(root) or run_dir
    if newest != run_dir:  # e.g. the interrupted run died before its first checkpoint
        return None, f"Resuming from {path} in a new run folder: {newest} is newer than {run_dir}"
    return run_dir, f"Resuming the run in {run_dir}"


def inherited_run_dir() -> Path | None:
    """Return the run folder claimed by the process that launched this one (DDP), if any."""
    value = os.environ.get(RUN_DIR_VARIABLE)
    return Path(value) if value else None
