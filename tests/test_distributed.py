"""DDP on CPU: two gloo processes give the metrics of one, and write each prediction once."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from mnist_lit.data.datamodule import MNISTDataModule, TensorImages
from mnist_lit.errors import ConfigError
from mnist_lit.report.curves import read_curves
from tests.helpers import (
    ROOT,
    FakeTrainer,
    TinyMNIST,
    TrainedModel,
    cli_args,
    make_mixed_folder,
    run,
    run_cli,
)

DDP = (
    "--config", str(ROOT / "configs/presets/ddp.yaml"),
    "--trainer.accelerator", "cpu",
    "--trainer.devices", "2",
)  # fmt: skip
DIGIT_KEYS = ["test/acc", *(f"test/acc_digit_{d}" for d in range(10))]


def test_two_processes_test_as_one_on_the_same_weights(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    # 101 validation images: 51 + 50, where Lightning's default sampler would count one twice
    args = [*DDP, "--trainer.max_epochs", "2", "--test", "true", "--data.val_size", "101"]
    output = run_cli(tiny_mnist.checksums, ["fit", *cli_args(tiny_mnist, tmp_path, *args)])
    assert "Processes: 2 (2 per machine x 1 machines, strategy DDPStrategy)" in output
    assert output.count("Testing ") == 1 and output.count("  all ") == 1  # printed once
    assert "Grad strides do not match" not in output  # channels-last set before DDP wraps
    run_dir = tmp_path / "lightning_logs" / "version_0"
    logged = read_curves(run_dir, [*DIGIT_KEYS, "test/loss", "val/acc"])
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    last = ["--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"), "--data.val_size", "101"]
    validate = run("validate", tiny_mnist, tmp_path / "one", *last)
    assert logged["val/acc"][1][-1] == pytest.approx(
        float(validate.trainer.callback_metrics["val/acc"]), abs=1e-6
    )

    one = run("test", tiny_mnist, tmp_path / "one", "--ckpt_path", str(best))
    metrics = one.trainer.callback_metrics
    for key in DIGIT_KEYS:  # the 200 test images, each counted once: the same fractions
        assert logged[key][1][-1] == pytest.approx(float(metrics[key]), abs=1e-6), key
    assert logged["test/loss"][1][-1] == pytest.approx(float(metrics["test/loss"]), rel=1e-5)
    # each process trained on its half of the 500 images: 8 batches of 32 per epoch, not 16
    assert torch.load(best, weights_only=True)["global_step"] == 2 * 8


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("source", ["mnist", "folder"])
def test_two_processes_predict_each_image_once(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path, source: str
) -> None:
    args = ["--ckpt_path", str(tiny_model.best)]
    if source == "folder":  # good images, broken ones and non-images, nested
        make_mixed_folder(tmp_path / "mine")
        args += ["--data.predict_dir", str(tmp_path / "mine"), "--data.batch_size", "3"]
    two, one = tmp_path / "two.csv", tmp_path / "one.csv"
    output = run_cli(
        tiny_mnist.checksums,
        ["predict", *cli_args(tiny_mnist, tmp_path, *DDP, *args, "--predictions", str(two))],
    )
    run("predict", tiny_mnist, tmp_path, *args, "--predictions", str(one))
    rows, expected = read_rows(two), read_rows(one)
    assert output.count(f"Wrote {len(expected)} rows to") == 1
    if source == "mnist":
        assert [r["path"] for r in rows] == [f"t10k-images-idx3-ubyte[{i}]" for i in range(200)]
    # the rows of one process, in its order: each image once, failures included
    for row, same in zip(rows, expected, strict=True):
        assert (row["path"], row["prediction"], row["error"]) == (
            same["path"],
            same["prediction"],
            same["error"],
        )
        if same["p3"]:
            assert float(row["p3"]) == pytest.approx(float(same["p3"]), abs=1e-5)
    assert not list(tmp_path.glob(".*.part"))


def indices(loader: DataLoader[Any]) -> list[int]:
    assert loader.sampler is not None
    return list(iter(loader.sampler))  # type: ignore[call-overload]


def test_every_process_takes_its_own_share(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = MNISTDataModule(data_dir=str(tmp_path), mirror=str(tiny_mnist.mirror), val_size=101)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    shares: dict[str, list[list[int]]] = {"train": [], "val": [], "test": []}
    for rank in (0, 1):
        dm.trainer = FakeTrainer(2, rank)  # type: ignore[assignment]
        shares["train"].append(indices(dm.train_dataloader()))
        shares["val"].append(indices(dm.val_dataloader()))  # type: ignore[arg-type]
        shares["test"].append(indices(dm.test_dataloader()))
    # training: the same permutation of the 499 images split in two, one repeated to even them
    assert len(shares["train"][0]) == len(shares["train"][1]) == 250
    assert sorted(set(shares["train"][0] + shares["train"][1])) == list(range(499))
    # evaluation: every image exactly once over the two processes
    for stage, size in (("val", 101), ("test", 200)):
        assert sorted(shares[stage][0] + shares[stage][1]) == list(range(size)), stage
    one_image = TensorImages(torch.zeros(1, 28, 28, dtype=torch.uint8), torch.zeros(1))
    with pytest.raises(ConfigError, match="1 images cannot be shared by 2 processes"):
        dm._loader(one_image)  # a process without images would stall the others


def test_a_run_ends_its_gloo_process_group(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    # Lightning destroys only NCCL groups at exit; a gloo group left to the interpreter's
    # shutdown aborted a DDP run that had succeeded ("terminate called without an active
    # exception", seen in CI). A one-process group stands in for DDP's here.
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        run("validate", tiny_mnist, tmp_path, "--ckpt_path", str(tiny_model.best))
        assert not torch.distributed.is_initialized()
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
