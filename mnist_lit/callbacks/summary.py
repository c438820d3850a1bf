"""What ``test`` prints at its end: the accuracy of each digit and the confusion matrix, as text.

python -m mnist_lit test --config configs/default.yaml --ckpt_path best
"""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer

from mnist_lit.viz.tables import format_confusion_matrix, format_digit_table


class TestSummary(Callback):
    """Print the per-digit table and the confusion matrix of the test set after ``test``.

    Reads what the model keeps of its last test epoch (``MNISTClassifier.digit_accuracy`` and
    ``.confusion``, already summed over the processes); prints once, in the first process.
    """

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the tables, if the test set had images."""
        per_digit = getattr(pl_module, "digit_accuracy", {}).get("test")
        confusion = getattr(pl_module, "confusion", {}).get("test")
        if per_digit is None or confusion is None or not trainer.is_global_zero:
            return
        print(format_digit_table(per_digit, confusion.sum(dim=1)), flush=True)
        print(format_confusion_matrix(confusion), flush=True)
