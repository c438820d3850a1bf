"""A callback that times each training epoch and scores the model on the test set after it.

    python -m mnist_lit.experiments.data_scale --config configs/experiments/data_scale.yaml

Used by the experiments to measure, for every epoch of a ``fit``: the training time (the epoch's
batches, from its first step to the end of its last; evaluations and data preparation excluded,
CUDA synchronised), the mean training loss (the model's own ``train_loss`` metric), and the test
accuracy and loss, as
``python -m mnist_lit.report`` measures them. Each epoch prints one progress line and logs
``test/acc``, ``test/loss`` and ``train/seconds`` (training time so far) to the run's logger, so
TensorBoard's HPARAMS tab compares runs on them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torchmetrics import Metric

from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.evaluation import evaluate
from mnist_lit.models.classifier import MNISTClassifier


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch of training gave."""

    epoch: int
    """1 for the first epoch."""
    train_images: int
    """Images trained on in this epoch."""
    train_seconds: float
    """Time of this epoch's training steps."""
    train_loss: float
    """Mean cross-entropy over this epoch's training images."""
    test_acc: float
    """Accuracy on the test set after this epoch, 0-1."""
    test_loss: float
    """Mean cross-entropy on the test set after this epoch."""
    test_seconds: float
    """Time of that evaluation."""
    device: str
    """Where training ran, e.g. ``CPU AMD EPYC, 2 threads`` or ``CUDA NVIDIA H100``."""
    precision: str
    """The Trainer's precision, e.g. ``32-true``."""

    def as_row(self) -> dict[str, Any]:
        """Return the record as a flat dict, e.g. for a CSV row."""
        return asdict(self)


class EpochRecorder(Callback):
    """Time each training epoch and evaluate the test set after it; keep one record per epoch.

    Args:
        label: Names the run in the progress lines, e.g. ``size 5,000, seed 42``.

    """

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.records: list[EpochRecord] = []
        self._start = 0.0
        self._end: float | None = None
        self._images = 0

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the epoch's clock after the device has finished earlier work."""
        _synchronize(pl_module.device)
        self._end = None
        self._images = 0
        self._start = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Count the batch's images; stop the clock after the epoch's last batch."""
        self._images += len(batch[1])
        if batch_idx + 1 >= trainer.num_training_batches:
            _synchronize(pl_module.device)
            self._end = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Evaluate the test set, keep the epoch's record, log it and print the progress line."""
        if self._end is None:  # the epoch stopped early (e.g. max_steps)
            _synchronize(pl_module.device)
            self._end = time.perf_counter()
        datamodule = trainer.datamodule  # type: ignore[attr-defined]
        if not isinstance(datamodule, MNISTDataModule) or not isinstance(
            pl_module, MNISTClassifier
        ):
            raise TypeError("EpochRecorder needs MNISTDataModule and MNISTClassifier")
        # The model's running mean of this epoch's training loss (it resets it after this hook)
        train_loss = pl_module.metrics["train_loss"]
        assert isinstance(train_loss, Metric)
        loss = float(train_loss.compute())
        if datamodule.test_set is None:
            datamodule.setup("test")
        # Evaluating draws from the random generators (each DataLoader takes a seed); fork them
        # so that the following epochs shuffle as they would in a plain ``fit``.
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            label = f"{self.label + ': ' if self.label else ''}testing after epoch {trainer.current_epoch + 1}"
            evaluation = evaluate(pl_module, datamodule, pl_module.device, progress=label)
        pl_module.to(memory_format=pl_module.train_memory_format)  # undo evaluate's layout
        pl_module.train()
        record = EpochRecord(
            epoch=trainer.current_epoch + 1,
            train_images=self._images,
            train_seconds=self._end - self._start,
            train_loss=loss,
            test_acc=evaluation.accuracy,
            test_loss=evaluation.loss,
            test_seconds=evaluation.seconds,
            device=evaluation.device,
            precision=str(trainer.precision),
        )
        self.records.append(record)
        seconds = sum(r.train_seconds for r in self.records)
        pl_module.log_dict(
            {"test/acc": record.test_acc, "test/loss": record.test_loss, "train/seconds": seconds}
        )
        of = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        speed = record.train_images / record.train_seconds if record.train_seconds else 0.0
        pl_module.print(  # rank zero only, above the progress bar
            f"{self.label + ', ' if self.label else ''}epoch {record.epoch}{of}: "
            f"test acc {100 * record.test_acc:.2f}%, test loss {record.test_loss:.4f}, "
            f"train loss {record.train_loss:.4f}; trained {record.train_seconds:.1f} s "
            f"({speed:,.0f} img/s, {seconds:.1f} s in all), tested {record.test_seconds:.1f} s"
        )

    def state_dict(self) -> dict[str, Any]:
        """Return the records so far, so that a resumed ``fit`` keeps them."""
        return {"records": [r.as_row() for r in self.records]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the records of a checkpoint."""
        self.records = [EpochRecord(**row) for row in state_dict.get("records", [])]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
