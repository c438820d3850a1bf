"""What the tests share: the CLI driven in-process or in a new process, tiny data, users' images,
handwriting, and readers of what runs leave behind (TensorBoard files, figures)."""

from tests.helpers.cli import (
    CONFIG,
    PRESETS,
    ROOT,
    cli_args,
    expect_error,
    run,
    run_cli,
    stall_at,
    start_cli,
    wait_for,
)
from tests.helpers.data import (
    SHARED_MNIST,
    FakeTrainer,
    TinyMNIST,
    TrainedModel,
    write_tiny_mnist,
)
from tests.helpers.handwriting import DIGITS, Stroke, render
from tests.helpers.images import (
    BAD,
    BAD_FILES,
    GOOD,
    dark_on_white,
    good_png,
    make_mixed_folder,
    stroke_digit,
    transparent_strokes,
)
from tests.helpers.tensorboard import events, hparams_of

__all__ = [
    "BAD",
    "BAD_FILES",
    "CONFIG",
    "DIGITS",
    "GOOD",
    "PRESETS",
    "ROOT",
    "SHARED_MNIST",
    "FakeTrainer",
    "Stroke",
    "TinyMNIST",
    "TrainedModel",
    "cli_args",
    "dark_on_white",
    "events",
    "expect_error",
    "good_png",
    "hparams_of",
    "make_mixed_folder",
    "render",
    "run",
    "run_cli",
    "stall_at",
    "start_cli",
    "stroke_digit",
    "transparent_strokes",
    "wait_for",
    "write_tiny_mnist",
]
