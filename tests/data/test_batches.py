"""Batches formed on the device (``--data.on_device``): the DataLoader's batches, in its order."""

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from mnist_lit.data.batches import DeviceBatches
from mnist_lit.data.datamodule import MNISTDataModule
from tests.helpers import FakeTrainer, TinyMNIST, run


def batches(loader: Any) -> list[tuple[Tensor, Tensor]]:
    return [(images.clone(), labels.clone()) for images, labels in loader]


def assert_same_batches(a: list[tuple[Tensor, Tensor]], b: list[tuple[Tensor, Tensor]]) -> None:
    assert len(a) == len(b)
    for (images_a, labels_a), (images_b, labels_b) in zip(a, b, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)


def test_device_batches_are_the_dataloaders_batches(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    """Every split, every epoch and every process's share: the same images in the same order."""
    loaders: dict[bool, dict[str, list[list[tuple[Tensor, Tensor]]]]] = {}
    for on_device in (True, False):
        dm = MNISTDataModule(
            data_dir=str(tmp_path), mirror=str(tiny_mnist.mirror), val_size=100,
            batch_size=64, on_device=on_device,
        )  # fmt: skip
        dm.prepare_data()
        dm.setup("fit")
        dm.setup("test")
        seen: dict[str, list[list[tuple[Tensor, Tensor]]]] = {"train": [], "val": [], "test": []}
        for world_size, rank in ((1, 0), (2, 0), (2, 1)):
            dm.trainer = FakeTrainer(world_size, rank)  # type: ignore[assignment]
            train = dm.train_dataloader()
            for epoch in (0, 1):
                train.sampler.set_epoch(epoch)  # type: ignore[union-attr]
                seen["train"].append(batches(train))
            seen["val"].append(batches(dm.val_dataloader()))
            seen["test"].append(batches(dm.test_dataloader()))
        assert isinstance(train, DeviceBatches) == on_device
        loaders[on_device] = seen
    for split in ("train", "val", "test"):
        for on_device, on_host in zip(loaders[True][split], loaders[False][split], strict=True):
            assert_same_batches(on_device, on_host)
    epochs = loaders[True]["train"][:2]
    assert not torch.equal(epochs[0][0][1], epochs[1][0][1])  # a new order each epoch
    assert [len(labels) for _, labels in epochs[0]] == [64] * 7 + [52]  # 500 images
    # predict keeps a DataLoader: the predictions file takes each image's index from its sampler
    dm.setup("predict")
    assert isinstance(dm.predict_dataloader(), torch.utils.data.DataLoader)


class FirstLabels(Callback):
    """Records the labels of each epoch's first training batch, as the Trainer delivers them."""

    def __init__(self) -> None:
        self.labels: list[Tensor] = []

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx == 0:
            self.labels.append(batch[1].clone())


def test_the_trainer_shuffles_device_batches_anew_each_epoch(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    firsts = {}
    for on_device in ("true", "false"):
        recorder = FirstLabels()
        cli = run(
            "fit", tiny_mnist, tmp_path / on_device, "--trainer.max_epochs", "2",
            "--data.on_device", on_device, "--trainer.limit_train_batches", "2", "--data.val_size", "0",
            "--trainer.callbacks+", "tests.data.test_batches.FirstLabels",
        )  # fmt: skip
        recorder = next(c for c in cli.trainer.callbacks if isinstance(c, FirstLabels))
        firsts[on_device] = recorder.labels
    assert len(firsts["true"]) == 2 and not torch.equal(*firsts["true"])  # set_epoch was called
    assert all(torch.equal(a, b) for a, b in zip(firsts["true"], firsts["false"], strict=True))
