"""A callback that stops a real run at a chosen batch, so a test can kill or interrupt it there.

Given to the CLI as ``--trainer.callbacks+='{"class_path": "tests.helpers.stall.Stall", ...}'`` in a
subprocess started from the repository root.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer


class Stall(Callback):
    """Write ``marker`` and sleep when a batch of the given stage and epoch starts.

    Args:
        marker: File written when the run reaches the batch (the test waits for it).
        stage: ``train`` or ``predict``.
        epoch: Training epoch (ignored for ``predict``).
        batch: Index of the batch within the epoch.

    """

    def __init__(self, marker: str, stage: str = "train", epoch: int = 0, batch: int = 0) -> None:
        self.marker = Path(marker)
        self.stage = stage
        self.epoch = epoch
        self.batch = batch

    def _stall(self) -> None:
        self.marker.write_text("stalled")
        time.sleep(600)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if (
            self.stage == "train"
            and trainer.current_epoch == self.epoch
            and batch_idx == self.batch
        ):
            self._stall()

    def on_predict_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.stage == "predict" and batch_idx == self.batch:
            self._stall()
