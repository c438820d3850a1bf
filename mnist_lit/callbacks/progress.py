"""The progress bar: Lightning's, showing the training loss without making the host wait every step.

    python -m mnist_lit fit --config configs/default.yaml --progress_bar.refresh_rate 10

Lightning turns every value logged with ``prog_bar=True`` into a Python number after *every*
training step, re-reading the last one logged on steps that log nothing: on a GPU each such read
waits for all queued work. The model therefore logs its per-step loss and accuracy for the logger
only, and this bar reads them when it redraws (every ``refresh_rate`` batches), as the model logs
them on exactly those steps (``MNISTClassifier._shows_this_step``).
"""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import TQDMProgressBar

from mnist_lit.training.runs import VERSION_PREFIX

SHOWN = ("train/loss", "train/acc")
"""Per-step values the bar shows beside Lightning's own (and the epoch's validation values)."""


class ProgressBar(TQDMProgressBar):
    """Lightning's ``TQDMProgressBar`` that also shows the training step's loss and accuracy.

    Args:
        refresh_rate: Batches between redraws; each redraw reads the shown values from the
            device. ``0`` turns the bar off.
        process_position: Line of the bar, for several bars at once.
        leave: Keep each epoch's finished bar on screen.

    """

    def get_metrics(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> dict[str, int | str | float | dict[str, float]]:
        """Lightning's values for the bar plus ``SHOWN``, read from the device now (a redraw)."""
        items = super().get_metrics(trainer, pl_module)
        if "v_num" in items and trainer.logger is not None:  # the run's number, not Lightning's
            version = str(trainer.logger.version)  # last 4 characters of "version_12": "n_12"
            if version.startswith(VERSION_PREFIX):
                items["v_num"] = version.removeprefix(VERSION_PREFIX)
        if trainer.training:
            logged = trainer.callback_metrics
            items.update({key: float(logged[key]) for key in SHOWN if key in logged})
        return items
