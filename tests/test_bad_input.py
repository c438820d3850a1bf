"""Bad input as an adversary gives it: one clear line for each, and no half-written output file."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from mnist_lit import files
from tests.helpers import (
    TinyMNIST,
    TrainedModel,
    cli_args,
    expect_error,
    stall_at,
    start_cli,
    wait_for,
)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model.channels", "[0, 1, 2]"], "channels must all be positive, got [0, 1, 2]"),
        (["--model.hidden", "[-1, 5]"], "hidden must all be positive, got [-1, 5]"),
        (["--model.betas", "[1.5, 0.9]"], "betas must be in [0, 1), got [1.5, 0.9]"),
        (["--model.weight_decay", "-1"], "weight_decay must be 0 or more, got -1.0"),
        (["--model.tta", "-1"], "tta must be a shift of 0 to 27 pixels, got -1"),
        (["--model.optimizer", "sgd"], 'Parser key "model.optimizer"'),
        (["--model.compile", "fast"], 'Parser key "model.compile"'),
        (["--data.augment_degrees", "-3"], "augment_degrees must be 0 or more, got -3.0"),
        (["--data.augment_scale", "1.5"], "augment_scale must be in [0, 1), got 1.5"),
        (["--data.augment_margins", "true"], "augment_margins gives the degraded copies margins"),
        (["--trainer.accumulate_grad_batches", "0"], "accumulate_grad_batches must be 1 or more"),
        (["--data.train_size", str(10**9)], "exceeds the 60,000 MNIST training images"),
        (["--data.val_size", str(10**9)], "leaves no training images of the 60,000"),
        (["--trainer.max_epochs", "-5"], "`max_epochs` must be a non-negative integer or -1"),
        (["--trainer.max_epochs", "many"], 'Parser key "trainer.max_epochs"'),
        (["--trainer.devices", "0"], "`Trainer(devices='0')` value is not a valid input"),
        (["--config", "{tmp}/missing.yaml"], "File does not exist: '{tmp}/missing.yaml'"),
        (["--config", "{tmp}/broken.yaml"], "Problems parsing config"),
        (["--ckpt_path", "{tmp}"], "is a folder; give the path of a .ckpt file"),
        (
            [
                "--trainer.strategy",
                "ddp",
                "--trainer.accelerator",
                "cpu",
                "--trainer.devices",
                "2",
                "--trainer.sync_batchnorm",
                "true",
            ],
            "sync_batchnorm needs GPUs",
        ),
    ],
)
def test_absurd_options_give_one_line(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    (tmp_path / "broken.yaml").write_text("trainer: [max_epochs: 3\n")
    extra = [value.replace("{tmp}", str(tmp_path)) for value in extra]
    err = expect_error(capsys, ["fit", *cli_args(tiny_mnist, tmp_path, *extra)])
    last = err.strip().splitlines()[-1]
    assert last.startswith("mnist_lit: error: ")
    assert message.replace("{tmp}", str(tmp_path)) in last
    assert not list(tmp_path.glob("lightning_logs/*/checkpoints/*"))


def test_a_log_folder_that_cannot_exist_is_one_line(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the log folder should go")
    args = cli_args(tiny_mnist, tmp_path, "--trainer.default_root_dir", str(blocker / "mnist"))
    err = expect_error(capsys, ["fit", *args])
    assert f"cannot use {blocker / 'mnist'}" in err and f"{blocker} is a file, not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_log_folder_is_one_line(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir(mode=0o555)
    args = cli_args(tiny_mnist, tmp_path, "--trainer.default_root_dir", str(runs))
    err = expect_error(capsys, ["fit", *args])
    assert f"cannot use {runs}" in err and "Permission denied" in err


@pytest.fixture
def trained(tiny_model: TrainedModel) -> list[str]:
    """``--ckpt_path`` of a model trained on the tiny data."""
    return ["--ckpt_path", str(tiny_model.best)]


def parts(folder: Path) -> list[Path]:
    return list(folder.rglob("*.part"))


def predict_error(
    capsys: pytest.CaptureFixture[str], tiny: TinyMNIST, root: Path, ckpt: list[str], target: Path
) -> str:
    """The error of ``predict`` writing to ``target``."""
    args = cli_args(tiny, root, *ckpt, "--predictions", str(target))
    return expect_error(capsys, ["predict", *args])


def test_predictions_under_a_file_are_one_line(
    tiny_mnist: TinyMNIST, tmp_path: Path, trained: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("x")
    target = blocker / "predictions.csv"
    err = predict_error(capsys, tiny_mnist, tmp_path, trained, target)
    assert f"cannot write {target}: {blocker} is a file, not a folder" in err


def test_a_read_only_predictions_folder_is_one_line(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    trained: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "ro" / "predictions.csv"
    target.parent.mkdir()

    def read_only(**kwargs: Any) -> tuple[int, str]:  # a read-only mount, even for root
        raise OSError(errno.EROFS, "Read-only file system", kwargs.get("dir"))

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    err = predict_error(capsys, tiny_mnist, tmp_path, trained, target)
    assert f"cannot write {target}: Read-only file system" in err
    assert not target.exists()


class FillsUp:
    """A file on a disk that is full after ``room`` characters."""

    def __init__(self, file: Any, room: int) -> None:
        self.file, self.room = file, room

    def write(self, text: str) -> int:
        self.room -= len(text)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written: int = self.file.write(text)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def test_a_full_disk_while_writing_predictions_leaves_no_file(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    trained: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "predictions.csv"
    fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: FillsUp(fdopen(*a, **k), 5000))
    err = predict_error(capsys, tiny_mnist, tmp_path, trained, target)
    assert f"cannot write {target}: No space left on device" in err.strip().splitlines()[-1]
    assert not target.exists() and not parts(tmp_path)


def test_ctrl_c_during_predict_leaves_no_file(
    tiny_mnist: TinyMNIST, tmp_path: Path, trained: list[str]
) -> None:
    target = tmp_path / "predictions.csv"
    marker = tmp_path / "stalled"
    args = cli_args(tiny_mnist, tmp_path, *trained, "--predictions", str(target))
    process = start_cli(
        tiny_mnist.checksums,
        ["predict", *args, stall_at(marker, stage="predict", batch=2)],
    )
    wait_for(marker, process)
    assert parts(tmp_path)  # two batches are in the hidden part file
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"Prediction interrupted: {target} was not written" in output
    assert "Traceback" not in output
    assert not target.exists() and not parts(tmp_path)
