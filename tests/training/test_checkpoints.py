import os
from pathlib import Path

import pytest
import torch

from mnist_lit.demo.recognise import Recogniser
from mnist_lit.errors import CheckpointError
from mnist_lit.training.checkpoints import load_checkpoint, resolve_checkpoint
from tests.helpers import TrainedModel


def touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.utime(path, (mtime, mtime))
    return path


def test_best_is_the_highest_val_acc_of_the_newest_run(tmp_path: Path) -> None:
    old = tmp_path / "version_0" / "checkpoints"
    touch(old / "best-epoch=9-val_acc=0.9990.ckpt", 100)
    touch(old / "last.ckpt", 100)
    new = tmp_path / "version_1" / "checkpoints"
    touch(new / "best-epoch=1-val_acc=0.9800.ckpt", 200)
    touch(new / "best-epoch=2-val_acc=0.9850.ckpt", 250)
    touch(new / "best-epoch=3-val_acc=0.9700.ckpt", 300)  # saved last, but not the best
    touch(new / "last.ckpt", 300)
    (tmp_path / "version_2").mkdir()  # a test run: no checkpoints
    assert resolve_checkpoint("best", tmp_path) == new / "best-epoch=2-val_acc=0.9850.ckpt"
    assert resolve_checkpoint("last", tmp_path) == new / "last.ckpt"


def test_best_falls_back_to_last_without_validation(tmp_path: Path) -> None:
    last = touch(tmp_path / "version_0" / "checkpoints" / "last.ckpt", 100)
    assert resolve_checkpoint("best", tmp_path) == last


def test_nothing_to_resolve(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoints under"):
        resolve_checkpoint("last", tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(str(tmp_path / "x.ckpt"), tmp_path)


def test_loading_refuses_files_that_are_not_plain_checkpoints(tmp_path: Path) -> None:
    pickled = tmp_path / "code.ckpt"
    torch.save({"state_dict": {}, "hook": print}, pickled)  # loading would need arbitrary objects
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(pickled)
    foreign = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a Lightning checkpoint"):
        load_checkpoint(foreign)


@pytest.mark.parametrize("std", [float("nan"), 0.0, "x"])
def test_a_checkpoint_whose_normalisation_gives_nan_is_refused(
    tmp_path: Path, tiny_model: TrainedModel, std: object
) -> None:
    # the demo answered 0 with NaN probabilities for a checkpoint with a NaN std
    checkpoint = torch.load(tiny_model.best, weights_only=True)
    checkpoint["hyper_parameters"]["std"] = std
    damaged = tmp_path / "damaged.ckpt"
    torch.save(checkpoint, damaged)
    with pytest.raises(CheckpointError, match="unusable normalisation"):
        load_checkpoint(damaged)
    with pytest.raises(CheckpointError, match="unusable normalisation"):
        Recogniser.from_checkpoint(damaged)
