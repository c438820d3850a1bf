"""Write ``predict`` results to a CSV file, batch by batch (memory stays flat)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from mnist_lit.constants import CLASS_NAMES

FILE_NAME = "predictions.csv"


class PredictionWriter(BasePredictionWriter):
    """Write one CSV row per image: index, label, predicted digit, confidence, ten probabilities.

    The file appears only when prediction finishes; an interrupted run leaves no partial file.

    Args:
        path: Output file; ``None`` writes ``predictions.csv`` into the run's log folder.

    """

    def __init__(self, path: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.path = path
        self.written: Path | None = None  # the output file, once prediction has started
        self._part = Path()
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._count = 0

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Open a hidden ``.part`` file next to the target and write the header."""
        run_dir = Path(trainer.log_dir or trainer.default_root_dir)
        self.written = Path(self.path) if self.path is not None else run_dir / FILE_NAME
        self._part = self.written.with_name(f".{self.written.name}.part")
        self._part.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._part, "w", newline="")  # noqa: SIM115 (closed in on_predict_end)
        self._writer = csv.writer(self._file)
        self._writer.writerow(
            ["index", "label", "prediction", "confidence", *(f"p{c}" for c in CLASS_NAMES)]
        )
        self._count = 0

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Tensor,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Append one row per image of the batch."""
        probs = prediction.float().cpu()
        confidence, predicted = probs.max(dim=1)
        labels = batch[1].tolist() if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        start = self._count
        indices = (
            list(batch_indices) if batch_indices is not None else range(start, start + len(probs))
        )
        for row, index in enumerate(indices):
            self._writer.writerow(
                [
                    index,
                    "" if labels is None else labels[row],
                    int(predicted[row]),
                    f"{float(confidence[row]):.6f}",
                    *(f"{p:.6f}" for p in probs[row].tolist()),
                ]
            )
        self._count += len(probs)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Move the finished file into place and say where it is."""
        assert self._file is not None
        self._file.close()
        self._file = None
        assert self.written is not None
        os.replace(self._part, self.written)
        if trainer.is_global_zero:  # not pl_module.print: the progress bar is closed by now
            print(f"Wrote {self._count:,} predictions to {self.written}", flush=True)

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Remove the partial file of an interrupted run."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._part.unlink(missing_ok=True)
