"""Lightning's Trainer with ``precision: auto`` (see ``precision.py``) and safe checkpoint files.

    python -m mnist_lit fit --config configs/default.yaml --trainer.precision auto

Checkpoints are written atomically and read without running code (``checkpoint_io.py``) unless
``plugins`` brings its own ``CheckpointIO`` (or ``strategy`` is a configured object or XLA).
``log_dir`` is the run folder the CLI chose (``run_dir``, see ``runs.py``) where it chose one.
Every other argument is Lightning's own and passes through unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.fabric.plugins.precision.precision import _PRECISION_INPUT
from lightning.pytorch import Callback
from lightning.pytorch import Trainer as LightningTrainer
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.strategies import Strategy

from mnist_lit.callbacks.progress import ProgressBar as ValuesBar
from mnist_lit.errors import ConfigError
from mnist_lit.training.checkpoint_io import SafeCheckpointIO
from mnist_lit.training.device import cpu_flags
from mnist_lit.training.precision import Choice, choose_precision, device_type


class Trainer(LightningTrainer):
    """Lightning's ``Trainer``, whose precision can follow the hardware.

    Args:
        precision: ``auto`` picks the fastest precision for the device the run lands on:
            ``bf16-mixed`` on CUDA GPUs with bf16 (Ampere and newer) and on CPUs with AMX or
            AVX-512 BF16; ``16-mixed`` on older CUDA GPUs; ``32-true`` elsewhere, e.g. on CPUs
            with AVX2 only, where bf16 is about 10x slower than fp32. The choice and its reason
            are printed at start. Any of Lightning's values (``32-true``, ``bf16-mixed``,
            ``16-mixed``, ``64-true``, ...) is used as given; ``null`` means ``32-true``.
        *args: Lightning's ``Trainer`` arguments.
        **kwargs: Lightning's ``Trainer`` arguments.

    """

    def __init__(
        self,
        *args: Any,
        precision: _PRECISION_INPUT | Literal["auto"] | None = None,
        **kwargs: Any,
    ) -> None:
        self.precision_choice: Choice | None = None
        # The run folder for the run's files when the logger keeps its records elsewhere (runs.py)
        self.run_dir: Path | None = None
        if precision == "auto":
            kind = device_type(kwargs.get("accelerator", "auto"))
            bf16 = kind == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
            self.precision_choice = choose_precision(kind, cpu_flags(), cuda_bf16=bf16)
            kwargs["precision"] = self.precision_choice.precision
        else:
            kwargs["precision"] = precision
        accumulate = kwargs.get("accumulate_grad_batches", 1)
        if not isinstance(accumulate, int) or accumulate < 1:  # Lightning divides by it
            raise ConfigError(f"accumulate_grad_batches must be 1 or more, got {accumulate}")
        kwargs["callbacks"] = _one_progress_bar(
            kwargs.get("callbacks"), kwargs.get("enable_progress_bar")
        )
        plugins = kwargs.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, list | tuple) else [plugins]
        strategy = kwargs.get("strategy", "auto")
        own_io = isinstance(strategy, Strategy) or "xla" in str(strategy)  # may bring its own
        if not own_io and not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            kwargs["plugins"] = [*plugins, SafeCheckpointIO()]
        super().__init__(*args, **kwargs)
        cpu_processes = self.world_size > 1 and self.strategy.root_device.type == "cpu"
        if kwargs.get("sync_batchnorm") and cpu_processes:  # PyTorch would fail at the first step
            raise ConfigError("sync_batchnorm needs GPUs; PyTorch cannot sync CPU processes")

    @property
    def log_dir(self) -> str | None:
        """The run folder: ``run_dir`` when set, else Lightning's choice (the first logger's folder).

        Lightning's own choice for a logger without a folder (MLflow with a database store, W&B)
        is ``None`` or a folder every run shares; ``config.yaml`` and ``predictions.csv`` go here.
        Where Lightning has none and the CLI chose none either, ``default_root_dir``.
        """
        if self.run_dir is not None:  # the same on every process (DDP inherits it)
            return str(self.run_dir)
        return super().log_dir or self.default_root_dir


def _one_progress_bar(callbacks: object, enabled: bool | None) -> list[Callback]:
    """Drop the CLI's ``--progress_bar`` where it would clash, which Lightning refuses.

    It clashes when the bar is off (``enable_progress_bar: false``) or the config brings a
    progress bar of its own (e.g. ``RichProgressBar`` in ``trainer.callbacks``).
    """
    given = list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]
    callbacks = [callback for callback in given if isinstance(callback, Callback)]
    own = [c for c in callbacks if isinstance(c, ProgressBar) and not isinstance(c, ValuesBar)]
    if enabled is False or own:
        callbacks = [callback for callback in callbacks if not isinstance(callback, ValuesBar)]
    return callbacks
