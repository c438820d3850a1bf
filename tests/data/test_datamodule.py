from collections import Counter
from pathlib import Path

import pytest
import torch
from torchvision import transforms
from torchvision.datasets import MNIST

from mnist_lit.data.datamodule import MNISTDataModule, balanced_subset
from mnist_lit.errors import ConfigError
from tests.helpers import TinyMNIST


def make_datamodule(tiny: TinyMNIST, tmp_path: Path, **kwargs: object) -> MNISTDataModule:
    options: dict[str, object] = {"val_size": 100, "batch_size": 50}
    options.update(kwargs)
    dm = MNISTDataModule(
        data_dir=str(tmp_path / "data"), mirror=str(tiny.mirror), download=False, **options
    )
    dm.prepare_data()
    return dm


def test_batches_equal_torchvision_transforms(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path)
    dm.setup("test")
    images, labels = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)

    reference = MNIST(
        str(tmp_path / "data"),
        train=False,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]),
    )
    expected = torch.stack([reference[i][0] for i in range(len(images))])
    assert images.dtype == torch.float32
    assert images.shape == (50, 1, 28, 28)
    assert torch.equal(images, expected)
    assert labels.tolist() == [reference[i][1] for i in range(len(images))]
    assert images.min() == -1 and images.max() == 1  # mean/std 0.5 map [0, 255] to [-1, 1]


def test_normalisation_is_configurable(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path, mean=0.1307, std=0.3081)
    dm.setup("test")
    images, _ = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)
    raw = torch.as_tensor(tiny_mnist.test_images[:50]).float() / 255
    torch.testing.assert_close(images[:, 0], (raw - 0.1307) / 0.3081)


def test_split_sizes_balance_and_disjointness(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path, train_size=200, val_size=100)
    dm.setup("fit")
    assert dm.train_set is not None and dm.val_set is not None
    assert len(dm.train_set) == 200 and len(dm.val_set) == 100
    assert set(Counter(dm.train_set.labels.tolist()).values()) == {20}
    assert set(Counter(dm.val_set.labels.tolist()).values()) == {10}
    train_rows = {bytes(img.numpy()) for img in dm.train_set.images}
    val_rows = {bytes(img.numpy()) for img in dm.val_set.images}
    assert not train_rows & val_rows


def test_split_is_fixed_by_seed(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    def train_images(seed: int) -> torch.Tensor:
        dm = make_datamodule(tiny_mnist, tmp_path, train_size=100, seed=seed)
        dm.setup("fit")
        assert dm.train_set is not None
        return dm.train_set.images

    assert torch.equal(train_images(7), train_images(7))
    assert not torch.equal(train_images(7), train_images(8))


def test_val_size_zero_trains_on_everything(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path, val_size=0)
    dm.setup("fit")
    assert dm.train_set is not None
    assert len(dm.train_set) == 600
    assert dm.val_dataloader() == []


def test_train_loader_covers_the_subset_once_per_epoch(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path, train_size=250, batch_size=32)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert [len(labels) for _, labels in batches] == [32] * 7 + [26]
    assert all(images.dtype == torch.uint8 for images, _ in batches)
    assert sum(len(labels) for _, labels in batches) == 250


def test_balanced_subset_gives_leftovers_to_larger_classes() -> None:
    labels = torch.tensor([0] * 3 + [1] * 10 + [2] * 10)
    picked = balanced_subset(labels, 15, torch.Generator().manual_seed(0))
    assert Counter(labels[picked].tolist()) == {0: 3, 1: 6, 2: 6}
    assert picked.tolist() == sorted(set(picked.tolist()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_size": -5}, "train_size must be positive, got -5"),
        ({"val_size": -1}, "val_size must be 0 or more"),
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"train_size": 58_000, "val_size": 5_000}, r"exceeds the 60,000 MNIST training images"),
        ({"val_size": 60_000}, r"val_size \(60000\) leaves no training images of the 60,000"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MNISTDataModule(**kwargs)  # type: ignore[arg-type]


def test_subset_larger_than_the_files_is_rejected_at_setup(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path, train_size=550, val_size=100)
    with pytest.raises(ConfigError, match="exceeds the 600 training images"):
        dm.setup("fit")


def test_worker_processes_give_the_same_batches(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    def test_batches(num_workers: int) -> list[torch.Tensor]:
        dm = make_datamodule(tiny_mnist, tmp_path, num_workers=num_workers)
        dm.setup("test")
        return [images for images, _ in dm.test_dataloader()]

    with_workers, in_process = test_batches(2), test_batches(0)
    assert len(with_workers) == len(in_process) == 4
    assert all(torch.equal(a, b) for a, b in zip(with_workers, in_process, strict=True))


def test_a_stale_torchvision_cache_is_not_used(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = make_datamodule(tiny_mnist, tmp_path)
    processed = tmp_path / "data" / "MNIST" / "processed"
    processed.mkdir(parents=True)
    torch.save((torch.zeros(5, 28, 28, dtype=torch.uint8), torch.zeros(5)), processed / "test.pt")
    dm.setup("test")
    assert dm.test_set is not None
    assert torch.equal(dm.test_set.images, torch.as_tensor(tiny_mnist.test_images))
