"""MNIST as a LightningDataModule: fetch and verify, subset and split, fast batches from uint8 tensors.

    python -m mnist_lit fit --config configs/default.yaml --data.mirror ../shared/data/mnist

The images stay in memory as one ``uint8`` tensor per split (60,000 x 28 x 28 bytes = 47 MB); a
batch is formed by indexing that tensor, moved to the device as ``uint8`` and normalised there, so
no image is ever converted to PIL and back. The values are exactly those of torchvision's
``ToTensor()`` followed by ``Normalize((mean,), (std,))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.mnist import read_image_file, read_label_file

from mnist_lit.constants import MEAN, STD, TRAIN_IMAGES
from mnist_lit.errors import ConfigError, DataError
from mnist_lit.fetch import fetch_mnist, raw_folder

Batch = tuple[Tensor, Tensor]


class TensorImages(Dataset[Batch]):
    """Images held as one ``uint8`` tensor; a batch is one indexing operation, not one call per image.

    Args:
        images: ``(N, 28, 28)`` uint8 pixels, 0 = black background.
        labels: ``(N,)`` int64 digits.

    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Batch:
        return self.images[index].unsqueeze(0), self.labels[index]  # (1, 28, 28), ()

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        # Used by DataLoader in place of __getitem__ per index; its output goes to collate_fn as is.
        idx = torch.as_tensor(indices)
        return self.images[idx].unsqueeze(1), self.labels[idx]  # (B, 1, 28, 28) uint8, (B,)


def keep_batch(batch: Any) -> Any:
    """Collate function for ``TensorImages``: the batch is already formed."""
    return batch


def normalize(images: Tensor, mean: float = MEAN, std: float = STD) -> Tensor:
    """Turn uint8 pixels into the network's input: ``(x / 255 - mean) / std`` as float32.

    Args:
        images: uint8 tensor of any shape, e.g. ``(B, 1, 28, 28)``.
        mean: Mean subtracted after scaling to [0, 1].
        std: Standard deviation divided by after subtracting the mean.

    Returns:
        A new float32 tensor, bit-identical to torchvision's ``ToTensor()`` + ``Normalize``.

    """
    return images.float().div_(255).sub_(mean).div_(std)


def balanced_subset(labels: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Pick ``size`` indices spread as evenly over the classes as their counts allow.

    Every class gets the same number where it has enough images; classes that run out give their
    share to the others. Within a class the images are drawn at random with ``generator``.

    Args:
        labels: ``(N,)`` class of each item.
        size: How many indices to pick, at most ``N``.
        generator: Source of randomness; the same seed gives the same indices.

    Returns:
        ``(size,)`` sorted int64 indices into ``labels``.

    """
    if not 0 <= size <= len(labels):
        raise ValueError(f"cannot pick {size} of {len(labels)} items")
    pools = [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]
    pools = [pool[torch.randperm(len(pool), generator=generator)] for pool in pools]
    quotas = _water_fill([len(pool) for pool in pools], size)
    picked = [pool[:quota] for pool, quota in zip(pools, quotas, strict=True)]
    return torch.cat(picked).sort().values if picked else torch.empty(0, dtype=torch.long)


def _water_fill(counts: list[int], total: int) -> list[int]:
    """Split ``total`` into per-class quotas as equal as possible, none above its class count."""
    quotas = [0] * len(counts)
    left = total
    while left > 0:
        open_classes = [i for i, count in enumerate(counts) if quotas[i] < count]
        share = left // len(open_classes)
        if share == 0:  # fewer items left than open classes: one more each to the lowest digits
            for i in open_classes[:left]:
                quotas[i] += 1
            break
        for i in open_classes:
            add = min(share, counts[i] - quotas[i])
            quotas[i] += add
            left -= add
    return quotas


class MNISTDataModule(LightningDataModule):
    """MNIST train/validation/test splits with balanced, seeded subsets and a fast input path.

    Args:
        data_dir: Folder where MNIST is kept (``DATA_DIR/MNIST/raw/``); created if needed.
        mirror: Local folder or base URL holding the four MNIST files (``.gz`` or uncompressed),
            tried before the official mirrors; a folder is only read, never written. Use it on
            machines without internet, e.g. ``../shared/data/mnist``.
        download: Allow network access: the official mirrors or an ``http(s)://`` mirror.
            ``false`` uses local files only.
        train_size: Training images to use, drawn from the 60,000 minus the validation ones,
            balanced across digits and fixed by ``seed``. ``null`` uses all of them.
        val_size: Training images held out for validation and checkpoint selection (balanced
            across digits, fixed by ``seed``). ``0`` trains on all images without validation.
        seed: Seed of the train/validation split and the subset (independent of the training
            seed, so runs with different ``seed_everything`` see the same data).
        batch_size: Images per batch for every split.
        num_workers: DataLoader worker processes. Batches are slices of an in-memory tensor,
            so ``0`` is usually fastest.
        pin_memory: Page-lock batches for faster copies to a GPU; ``null`` turns it on when CUDA
            is available.
        mean: Normalisation mean applied after scaling pixels to [0, 1].
        std: Normalisation standard deviation; with ``mean`` 0.5 it maps pixels to [-1, 1].

    """

    def __init__(
        self,
        data_dir: str = "data",
        mirror: str | None = None,
        download: bool = True,
        train_size: int | None = None,
        val_size: int = 5_000,
        seed: int = 42,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        mean: float = MEAN,
        std: float = STD,
    ) -> None:
        super().__init__()
        _check(
            train_size is None or train_size > 0, f"train_size must be positive, got {train_size}"
        )
        _check(val_size >= 0, f"val_size must be 0 or more, got {val_size}")
        _check(batch_size > 0, f"batch_size must be positive, got {batch_size}")
        _check(num_workers >= 0, f"num_workers must be 0 or more, got {num_workers}")
        _check(std > 0, f"std must be positive, got {std}")
        _check_sizes(train_size, val_size, TRAIN_IMAGES, "MNIST training images")
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.mirror = mirror
        self.download = download
        self.train_size = train_size
        self.val_size = val_size
        self.seed = seed
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.mean = mean
        self.std = std
        self.train_set: TensorImages | None = None
        self.val_set: TensorImages | None = None
        self.test_set: TensorImages | None = None

    def prepare_data(self) -> None:
        """Fetch and verify the four MNIST files (runs once per node)."""
        fetch_mnist(self.data_dir, mirror=self.mirror, download=self.download)

    def setup(self, stage: str) -> None:
        """Load the splits that ``stage`` needs into memory."""
        if stage == "validate" and self.val_size == 0:
            raise ConfigError("validate needs validation images, but val_size is 0")
        if stage in ("fit", "validate") and self.train_set is None:
            images, labels = self._load(train=True)
            where = f"training images in {raw_folder(self.data_dir)}"
            _check_sizes(self.train_size, self.val_size, len(labels), where)
            generator = torch.Generator().manual_seed(self.seed)
            val_idx = balanced_subset(labels, self.val_size, generator)
            rest = torch.ones(len(labels), dtype=torch.bool)
            rest[val_idx] = False
            rest_idx = torch.nonzero(rest).flatten()
            size = self.train_size or len(rest_idx)
            train_idx = rest_idx[balanced_subset(labels[rest_idx], size, generator)]
            self.train_set = TensorImages(images[train_idx], labels[train_idx])
            self.val_set = TensorImages(images[val_idx], labels[val_idx])
        if stage in ("test", "predict") and self.test_set is None:
            self.test_set = TensorImages(*self._load(train=False))

    def _load(self, train: bool) -> Batch:
        """Read one split from the verified raw files (never torchvision's ``processed/`` cache)."""
        prefix = "train" if train else "t10k"
        images = raw_folder(self.data_dir) / f"{prefix}-images-idx3-ubyte"
        labels = raw_folder(self.data_dir) / f"{prefix}-labels-idx1-ubyte"
        for path in (images, labels):
            if not path.is_file():
                raise DataError(
                    f"{path} not found; call prepare_data() first (the CLI does) "
                    "or check --data.data_dir"
                )
        return read_image_file(str(images)), read_label_file(str(labels))

    def train_dataloader(self) -> DataLoader[Batch]:
        """Return shuffled training batches of uint8 images (normalised after the device transfer)."""
        assert self.train_set is not None, "call setup('fit') first"
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader[Batch] | list[DataLoader[Batch]]:
        """Return the validation batches; none when ``val_size`` is 0."""
        assert self.val_set is not None, "call setup('fit') first"
        return self._loader(self.val_set) if len(self.val_set) else []

    def test_dataloader(self) -> DataLoader[Batch]:
        """Return the 10,000 MNIST test images, in their original order."""
        assert self.test_set is not None, "call setup('test') first"
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader[Batch]:
        """Return the MNIST test images, in their original order."""
        assert self.test_set is not None, "call setup('predict') first"
        return self._loader(self.test_set)

    def _loader(self, dataset: TensorImages, shuffle: bool = False) -> DataLoader[Batch]:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            collate_fn=keep_batch,
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalise on the device, after the cheap uint8 copy: (B, 1, 28, 28) uint8 -> float32."""
        if isinstance(batch, Tensor):  # the model summary's example input, already normalised
            return batch
        images, labels = batch
        return normalize(images, self.mean, self.std), labels


def _check_sizes(train_size: int | None, val_size: int, available: int, what: str) -> None:
    """Check that the validation images leave the training images asked for (at least one)."""
    if train_size is None:
        _check(
            val_size < available,
            f"val_size ({val_size}) leaves no training images of the {available:,} {what}",
        )
    else:
        _check(
            train_size + val_size <= available,
            f"train_size ({train_size}) + val_size ({val_size}) exceeds the {available:,} "
            f"{what}; lower one of them",
        )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
