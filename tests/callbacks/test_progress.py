"""The progress bar: redrawn every few batches, reading values from the device only then."""

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from torch import Tensor

from mnist_lit.callbacks.progress import ProgressBar
from mnist_lit.cli import main
from tests.helpers import TinyMNIST, cli_args, run

SYNCS = ("item", "tolist", "__bool__", "__float__", "__int__")
"""Tensor methods that bring a value to the host: on a GPU, a wait for the device."""


class SyncCounter(Callback):
    """Counts, per training step, the calls that read a tensor's value on the host.

    A step lasts until the next one starts, so that the logger's and the progress bar's work
    after ``on_train_batch_end`` counts too; the end of the epoch is left out.
    """

    active: "SyncCounter | None" = None

    def __init__(self) -> None:
        self.steps: set[int] = set()
        self.step: int | None = None
        SyncCounter.active = self

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        self.step = trainer.global_step

    def on_train_epoch_end(self, trainer: Trainer, *args: Any) -> None:
        self.step = None

    @classmethod
    def count(cls) -> None:
        if cls.active is not None and cls.active.step is not None:
            cls.active.steps.add(cls.active.step)


def test_training_steps_read_nothing_back_except_where_values_are_shown(
    tiny_mnist: TinyMNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logging and the progress bar read values from the device only on the steps that show
    them (every 5th for the logger here, every 10th for the bar), never at every step."""
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def counted(self: Tensor, *args: Any, _original: Any = original) -> Any:
            SyncCounter.count()
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counted)
    monkeypatch.setattr(SyncCounter, "active", None)
    run(
        "fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "1", "--data.val_size", "0",
        "--data.batch_size", "10", "--trainer.enable_progress_bar", "true",
        "--model.fused", "true",  # as the GPU presets (PyTorch's other Adam reads its step count)
        "--trainer.callbacks+", "tests.callbacks.test_progress.SyncCounter",
    )  # fmt: skip
    counter = SyncCounter.active
    assert counter is not None
    shown = {step for step in range(60) if (step + 1) % 5 == 0}  # 600 images in 60 steps
    assert counter.steps and counter.steps <= shown, sorted(counter.steps - shown)


def test_the_progress_bar_shows_the_training_loss_it_reads_on_redraw() -> None:
    logged = {"train/loss": torch.tensor(0.25), "train/acc": torch.tensor(0.5)}
    trainer = SimpleNamespace(
        training=True, callback_metrics=logged, progress_bar_metrics={"val/acc": 0.9}, loggers=[]
    )
    shown = ProgressBar().get_metrics(trainer, None)  # type: ignore[arg-type]
    assert shown == {"val/acc": 0.9, "train/loss": 0.25, "train/acc": 0.5}


def test_the_progress_bar_shows_the_runs_number() -> None:
    logger = SimpleNamespace(version="version_12")  # the run folder lightning_logs/version_12
    trainer = SimpleNamespace(
        training=False,
        callback_metrics={},
        progress_bar_metrics={},
        loggers=[logger],
        logger=logger,
    )
    shown = ProgressBar().get_metrics(trainer, None)  # type: ignore[arg-type]
    assert shown == {"v_num": "12"}  # Lightning shows the last 4 characters: "n_12"


@pytest.mark.parametrize(
    ("extra", "refresh"),
    [
        (["--trainer.enable_progress_bar", "true"], 10),
        (["--trainer.enable_progress_bar", "true", "--progress_bar.refresh_rate", "3"], 3),
        ([], None),  # cli_args turns the bar off: no clash with the --progress_bar callback
    ],
)
def test_progress_bar_redraws_every_few_batches(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    refresh: int | None,
) -> None:
    # as in a terminal (in a log file the CLI sets TQDM_MINITERS=50, which tqdm bars honour)
    monkeypatch.delenv("TQDM_MINITERS", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    cli = main(cli_args(tiny_mnist, tmp_path, *extra), run=False)
    bar = cli.trainer.progress_bar_callback
    assert (bar.refresh_rate if bar is not None else None) == refresh  # type: ignore[attr-defined]
