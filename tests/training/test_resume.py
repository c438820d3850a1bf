"""Resuming a killed run, determinism, and checkpoint files that survive crashes and attacks."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
import torch

from mnist_lit.errors import CheckpointError, OutputError
from mnist_lit.training.checkpoint_io import SafeCheckpointIO
from mnist_lit.training.checkpoints import load_checkpoint
from tests.helpers import TinyMNIST, cli_args, expect_error, run, stall_at, start_cli, wait_for

# dropout and a OneCycle schedule: a resumed run must restore the random state and the schedule
TRAINING = (
    "--trainer.max_epochs", "3",
    "--trainer.deterministic", "true",
    "--model.dropout", "0.2",
    "--model.schedule", "onecycle",
    "--model.lr", "0.003",
)  # fmt: skip


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")[
        "state_dict"
    ]
    return state


def test_a_killed_fit_resumes_where_it_stopped(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    # The run as it goes when nothing happens to it.
    whole = run("fit", tiny_mnist, tmp_path / "whole", *TRAINING)
    whole_dir = Path(whole.trainer.log_dir)

    # The same run, killed (SIGKILL: no chance to clean up) in the middle of its second epoch.
    root = tmp_path / "killed"
    marker = tmp_path / "stalled"
    process = start_cli(
        tiny_mnist.checksums,
        ["fit", *cli_args(tiny_mnist, root, *TRAINING, stall_at(marker, epoch=1, batch=5))],
    )
    wait_for(marker, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    run_dir = root / "lightning_logs" / "version_0"
    for checkpoint in (run_dir / "checkpoints").glob("*.ckpt"):
        assert load_checkpoint(checkpoint)["epoch"] == 0  # written after epoch 0, intact

    resumed = run("fit", tiny_mnist, root, *TRAINING, "--ckpt_path", "last")
    assert resumed.trainer.ckpt_path == str(run_dir / "checkpoints" / "last.ckpt")
    assert Path(resumed.trainer.log_dir) == run_dir  # the same run folder, not a new version
    assert sorted(p.name for p in (root / "lightning_logs").iterdir()) == ["version_0"]
    assert resumed.trainer.current_epoch == 3
    # Epochs, optimizer state, learning-rate schedule, data order and random state continued:
    # the resumed run ends with exactly the weights of the uninterrupted one.
    for name, value in weights(whole_dir).items():
        assert torch.equal(value, weights(run_dir)[name]), name
    last = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert (
        last["lr_schedulers"]
        == load_checkpoint(whole_dir / "checkpoints" / "last.ckpt")["lr_schedulers"]
    )
    assert resumed.trainer.callback_metrics["val/acc"] == whole.trainer.callback_metrics["val/acc"]


def test_resuming_with_another_length_of_schedule_is_refused(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onecycle = ("--model.schedule", "onecycle", "--trainer.max_epochs")
    run("fit", tiny_mnist, tmp_path, *onecycle, "1")
    err = expect_error(
        capsys, ["fit", *cli_args(tiny_mnist, tmp_path, *onecycle, "2", "--ckpt_path", "last")]
    )
    assert "the checkpoint's OneCycle schedule lasts 16 steps but this run would take 32" in err


def test_seeded_deterministic_runs_are_bit_identical(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    def metrics(name: str, *extra: str) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        fit = run(
            "fit", tiny_mnist, tmp_path / name, *TRAINING, "--trainer.max_epochs", "2", *extra
        )
        logged = {key: float(value) for key, value in fit.trainer.callback_metrics.items()}
        return logged, weights(Path(fit.trainer.log_dir))

    first, first_weights = metrics("a")
    second, second_weights = metrics("b")
    assert first == second
    assert all(torch.equal(first_weights[k], second_weights[k]) for k in first_weights)
    other, other_weights = metrics("c", "--seed_everything", "7")  # the seed matters
    assert other != first
    assert not all(torch.equal(first_weights[k], other_weights[k]) for k in first_weights)


def test_a_crash_while_saving_keeps_the_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = SafeCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 1}, path)

    def crash(obj: object, file: object) -> None:
        file.write(b"PK\x03\x04 half a checkpoint")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # or a kill, or a full disk

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "epoch": 2}, path)
    assert io.load_checkpoint(path)["epoch"] == 1  # the old file, whole
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_a_full_disk_while_saving_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(obj: object, file: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    path = tmp_path / "last.ckpt"
    with pytest.raises(OutputError, match=f"cannot write {path}: No space left on device"):
        SafeCheckpointIO().save_checkpoint({"state_dict": {}}, path)
    assert list(tmp_path.iterdir()) == []


class Payload:
    """An object whose unpickling runs a command: what a malicious checkpoint would hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("code", "is not a readable checkpoint"),
        ("module", "is not a readable checkpoint"),
        ("state_dict", "is not a Lightning checkpoint (it has no state_dict)"),
        ("truncated", "is not a readable checkpoint"),
        ("folder", "is a folder; give the path of a .ckpt file"),
    ],
)
def test_unsafe_corrupt_or_foreign_checkpoints_are_refused_by_name(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    path = tmp_path / "model.ckpt"
    marker = tmp_path / "code-ran"
    if content == "code":
        torch.save({"state_dict": {}, "payload": Payload(marker)}, path)
    elif content == "module":
        torch.save(torch.nn.Linear(2, 2), path)  # a whole pickled model, as some tutorials do
    elif content == "state_dict":
        torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    elif content == "truncated":
        torch.save({"state_dict": {"w": torch.ones(1000)}}, path)
        path.write_bytes(path.read_bytes()[:500])
    else:
        path.mkdir()
    for subcommand in ("fit", "test", "predict"):
        err = expect_error(
            capsys, [subcommand, *cli_args(tiny_mnist, tmp_path, "--ckpt_path", str(path))]
        )
        assert f"{path}" in err and message in err
    assert not marker.exists()  # the payload never ran
    if content != "state_dict":  # Lightning's loader also reads bare weights (ddp_spawn's)
        with pytest.raises(CheckpointError, match=re.escape(message)):
            SafeCheckpointIO().load_checkpoint(path)
    assert not marker.exists()


def test_an_unreadable_checkpoint_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}}, path)
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads any file: simulate the refusal

        def refuse(file: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(file))

        monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {path}: Permission denied"):
        load_checkpoint(path)
