"""MNIST as a LightningDataModule: fetch and verify, subset and split, fast batches from uint8 tensors.

    python -m mnist_lit fit --config configs/default.yaml --data.mirror ../shared/data/mnist
    python -m mnist_lit predict --config configs/default.yaml --ckpt_path best --data.predict_dir DIR

The images stay in memory as one ``uint8`` tensor per split (60,000 x 28 x 28 bytes = 47 MB),
kept on the training device (``on_device``, the default): a batch is formed by indexing that
tensor where the model runs (``batches.py``) and normalised there, so no image is ever converted
to PIL and back and a GPU gets no host-to-device copy per step. The values are exactly those of
torchvision's ``ToTensor()`` followed by ``Normalize((mean,), (std,))``.

Users' own images (``predict_dir``, ``custom_dir``) are decoded and made MNIST-like in DataLoader
workers (``folders.py``, ``preprocess.py``) and then follow the same path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.datasets.mnist import read_image_file, read_label_file

from mnist_lit.constants import MEAN, NOT_A_DIGIT, STD, TRAIN_IMAGES
from mnist_lit.data.augment import degrade, random_affine
from mnist_lit.data.batches import DeviceBatches
from mnist_lit.data.folders import (
    FolderBatch,
    FolderImages,
    collate_folder,
    list_images,
    list_labelled,
)
from mnist_lit.data.mnist import fetch_mnist, raw_folder
from mnist_lit.data.non_digits import make_non_digits
from mnist_lit.data.preprocess import MAX_PIXELS, MAX_SECONDS
from mnist_lit.data.preprocess import normalize as normalize  # its home before preprocess.py
from mnist_lit.distributed import gather
from mnist_lit.errors import ConfigError, DataError
from mnist_lit.numbers.folders import NumberBatch, NumberImages, collate_numbers
from mnist_lit.numbers.training import make_candidates

log = logging.getLogger(__name__)

Batch = tuple[Tensor, Tensor]
MAX_AUTO_WORKERS = 4
"""Most DataLoader workers ``num_workers: null`` starts for image folders."""


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
        on_device: Keep the MNIST training, validation and test images (55 MB as ``uint8``) on
            the device the model runs on, moved there once, and form every batch there by
            indexing: no DataLoader and no host-to-device copy per step (``batches.py``). Same
            batches, in the same order, as ``false``, which forms them on the host in a
            DataLoader and copies each to the device. ``predict`` and image folders always use
            a DataLoader.
        num_workers: DataLoader worker processes (image folders, ``predict``, and MNIST with
            ``on_device: false``). ``null`` chooses: none for MNIST (batches are slices of an
            in-memory tensor, fastest in the main process), one per CPU core (at most 4) for
            image folders, whose files are decoded in the workers.
        pin_memory: Page-lock batches for faster copies to a GPU; ``null`` turns it on when CUDA
            is available. Used by DataLoaders only (see ``on_device``).
        mean: Normalisation mean applied after scaling pixels to [0, 1].
        std: Normalisation standard deviation; with ``mean`` 0.5 it maps pixels to [-1, 1].
        predict_dir: Folder of your own images for ``predict`` (read recursively; any format
            Pillow reads). ``null`` predicts ``custom_dir`` if set, else the MNIST test set.
        custom_dir: Labelled folder of your own images, one subfolder per digit (``0/`` …
            ``9/``), used by ``test`` (and by ``predict`` without ``predict_dir``) in place of
            the MNIST test set.
        save_preprocessed: Folder to write the 28x28 images the model sees for ``predict_dir``
            and ``custom_dir``, as PNG under the same relative paths, to check the preprocessing.
        max_pixels: Images with more pixels are refused unread (decompression bombs); raise it
            for genuine photos above 64 megapixels. Files larger than 4 bytes a pixel of it,
            or whose decoding would take more memory, are refused too.
        max_seconds: Time limit for decoding one image file (decode bombs, such as a JPEG
            repeating a scan thousands of times): its row gets the reason and the run goes on.
        augment_degrees: Rotate each training image by a random angle up to this many degrees
            either way (0 = off). Augmentation runs on the training device, on whole batches
            (``augment.py``), and never touches validation, test or predict images.
        augment_shift: Shift each training image by up to this fraction of its width and
            height (0.1: up to 2.8 pixels) either way.
        augment_scale: Zoom each training image by a random factor in ``1 ± augment_scale``.
        augment_degrade: Make this share of the training images (e.g. 0.5) look like poorer
            copies: blurred, faded, on grey, noisy (``augment.degrade``), so that the model reads
            blurred and low-contrast digits too (the robustness suite's blur and fog). 0 = off.
        augment_margins: Give some of those copies bright margins at their edges (each side with
            a chance of 1 in 4: 3-10 pixels deep, 30-90% bright), as when a loose crop catches
            the paper's edge, so that the model sees past bright bands at the sides (the suite's
            stripe). Only with ``augment_degrade``.
        non_digits: Add this many generated non-digits per training image (e.g. 0.25), labelled
            ``-1``: the model learns to give them equal probabilities for every digit (outlier
            exposure, ``data/non_digits.py``), so that ``predict`` marks far more of what is not
            a digit as unsure. Validation and test stay digits only. 0 = off.
        number_pieces: Add this many candidate digits cut from made-up numbers per training
            image (e.g. 0.5; ``numbers/training.py``): those cut right (a digit, perhaps with
            a sliver of its neighbour) labelled with their digit, the others (part of a digit,
            two touching digits) ``-1`` as non-digits, so that the number reader
            (``--data.read number``) can tell right cuts from wrong ones. 0 = off.
        read: What each image of ``predict_dir`` holds for ``predict``: ``digit`` (one digit,
            read whole) or ``number`` (one or more digits written in a row, segmented and read
            digit by digit: the CSV gets a ``number`` column; ``docs/numbers.md``).

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
        on_device: bool = True,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        mean: float = MEAN,
        std: float = STD,
        predict_dir: str | None = None,
        custom_dir: str | None = None,
        save_preprocessed: str | None = None,
        max_pixels: int = MAX_PIXELS,
        max_seconds: float = MAX_SECONDS,
        augment_degrees: float = 0.0,
        augment_shift: float = 0.0,
        augment_scale: float = 0.0,
        augment_degrade: float = 0.0,
        augment_margins: bool = False,
        non_digits: float = 0.0,
        number_pieces: float = 0.0,
        read: Literal["digit", "number"] = "digit",
    ) -> None:
        super().__init__()
        _check(
            train_size is None or train_size > 0, f"train_size must be positive, got {train_size}"
        )
        _check(val_size >= 0, f"val_size must be 0 or more, got {val_size}")
        _check(batch_size > 0, f"batch_size must be positive, got {batch_size}")
        _check(
            num_workers is None or num_workers >= 0,
            f"num_workers must be 0 or more, got {num_workers}",
        )
        _check(std > 0, f"std must be positive, got {std}")
        _check(max_pixels > 0, f"max_pixels must be positive, got {max_pixels}")
        _check(max_seconds > 0, f"max_seconds must be positive, got {max_seconds}")
        _check(augment_degrees >= 0, f"augment_degrees must be 0 or more, got {augment_degrees}")
        _check(augment_shift >= 0, f"augment_shift must be 0 or more, got {augment_shift}")
        _check(0 <= augment_scale < 1, f"augment_scale must be in [0, 1), got {augment_scale}")
        _check(
            0 <= augment_degrade <= 1, f"augment_degrade must be in [0, 1], got {augment_degrade}"
        )
        _check(
            augment_degrade > 0 or not augment_margins,
            "augment_margins gives the degraded copies margins: set augment_degrade too (e.g. 0.5)",
        )
        _check(0 <= non_digits <= 1, f"non_digits must be in [0, 1], got {non_digits}")
        _check(0 <= number_pieces <= 1, f"number_pieces must be in [0, 1], got {number_pieces}")
        _check(read in ("digit", "number"), f"read must be digit or number, got {read!r}")
        _check(
            read == "digit" or save_preprocessed is None,
            "save_preprocessed keeps single digits' 28x28 images; it does not apply to read: number",
        )
        _check_sizes(train_size, val_size, TRAIN_IMAGES, "MNIST training images")
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.mirror = mirror
        self.download = download
        self.train_size = train_size
        self.val_size = val_size
        self.seed = seed
        self.batch_size = batch_size
        self.on_device = on_device
        self.num_workers = num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.mean = mean
        self.std = std
        self.predict_dir = predict_dir
        self.custom_dir = custom_dir
        self.save_preprocessed = save_preprocessed
        self.max_pixels = max_pixels
        self.max_seconds = max_seconds
        self.augment_degrees = augment_degrees
        self.augment_shift = augment_shift
        self.augment_scale = augment_scale
        self.augment_degrade = augment_degrade
        self.augment_margins = augment_margins
        self.non_digits = non_digits
        self.number_pieces = number_pieces
        self.read = read
        self.train_set: TensorImages | None = None
        self.val_set: TensorImages | None = None
        self.test_set: TensorImages | FolderImages | None = None
        self.predict_set: TensorImages | FolderImages | NumberImages | None = None
        self.failures: list[tuple[str, int, str]] = []  # files of custom_dir that ``test`` left out
        self._threads: int | None = None  # torch's thread count before folder workers took cores

    def prepare_data(self) -> None:
        """Fetch and verify the four MNIST files (runs once per node) unless only folders are used."""
        stage = self.trainer.state.fn if self.trainer is not None else None
        if stage == "test" and self.custom_dir is not None:
            return
        if stage == "predict" and (self.predict_dir or self.custom_dir) is not None:
            return
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
            digit_images, digit_labels = images[train_idx], labels[train_idx]
            train_images, train_labels = digit_images, digit_labels
            if self.non_digits > 0:
                count = round(self.non_digits * len(train_idx))
                extra = make_non_digits(digit_images, count, self.seed)
                train_images = torch.cat([train_images, extra])
                train_labels = torch.cat([train_labels, torch.full((count,), NOT_A_DIGIT)])
                if self._replicas()[1] == 0:
                    log.info(f"Added {count:,} generated non-digits to the training images")
            if self.number_pieces > 0:
                count = round(self.number_pieces * len(train_idx))
                pieces, piece_labels = make_candidates(digit_images, digit_labels, count, self.seed)
                train_images = torch.cat([train_images, pieces])
                train_labels = torch.cat([train_labels, piece_labels])
                if self._replicas()[1] == 0:
                    digits = int((piece_labels != NOT_A_DIGIT).sum())
                    log.info(
                        f"Added {len(pieces):,} candidate digits cut from made-up numbers to the "
                        f"training images ({digits:,} cut right, {len(pieces) - digits:,} not)"
                    )
            self.train_set = TensorImages(train_images, train_labels)
            self.val_set = TensorImages(images[val_idx], labels[val_idx])
        if stage == "test":
            self.failures = []
        if stage == "test" and self.test_set is None:
            self.test_set = (
                self._folder(self.custom_dir, labelled=True)
                if self.custom_dir is not None
                else TensorImages(*self._load(train=False))
            )
        if stage == "predict" and self.predict_set is None:
            if self.read == "number":
                if self.predict_dir is None:
                    raise ConfigError(
                        "read: number reads the images of predict_dir; set --data.predict_dir"
                    )
                listing = list_images(self.predict_dir)
                if self._replicas()[1] == 0:
                    log.info(
                        f"Found {len(listing.files):,} images of numbers in {self.predict_dir}"
                    )
                self.predict_set = NumberImages(
                    self.predict_dir, listing, self.max_pixels, self.max_seconds
                )
            elif self.predict_dir is not None:
                self.predict_set = self._folder(self.predict_dir, labelled=False)
            elif self.custom_dir is not None:
                self.predict_set = self._folder(self.custom_dir, labelled=True)
            else:
                self.predict_set = TensorImages(*self._load(train=False))

    def _folder(self, root: str, labelled: bool) -> FolderImages:
        """List a folder of the user's images (and say what was found)."""
        listing = list_labelled(root) if labelled else list_images(root)
        skipped = f" ({_files(listing.skipped)} of other kinds skipped)" if listing.skipped else ""
        if self._replicas()[1] == 0:
            log.info(f"Found {len(listing.files):,} images in {root}{skipped}")
        return FolderImages(
            root, listing, self.save_preprocessed, self.max_pixels, self.max_seconds
        )

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

    def train_dataloader(self) -> DataLoader[Batch] | DeviceBatches:
        """Return shuffled training batches of uint8 images (normalised after the device transfer)."""
        assert self.train_set is not None, "call setup('fit') first"
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader[Batch] | DeviceBatches | list[DataLoader[Batch]]:
        """Return the validation batches; none when ``val_size`` is 0."""
        assert self.val_set is not None, "call setup('fit') first"
        return self._loader(self.val_set) if len(self.val_set) else []

    def test_dataloader(self) -> DataLoader[Any] | DeviceBatches:
        """Return the images of ``custom_dir``, else the 10,000 MNIST test images, in order."""
        assert self.test_set is not None, "call setup('test') first"
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader[Any] | DeviceBatches:
        """Return ``predict_dir``, else ``custom_dir``, else the MNIST test images, in order."""
        assert self.predict_set is not None, "call setup('predict') first"
        # a DataLoader even for MNIST: the predictions file names each image by its index, which
        # Lightning takes from the DataLoader's sampler
        return self._loader(self.predict_set, on_device=False)

    def _replicas(self) -> tuple[int, int]:
        """Return the number of processes and this one's rank (``1, 0`` without a Trainer)."""
        if self.trainer is None:
            return 1, 0
        return self.trainer.world_size, self.trainer.global_rank

    def _sampler(self, dataset: Dataset[Any], shuffle: bool) -> DistributedSampler[Any] | None:
        """Which images this process takes, in which order.

        Training: a new permutation each epoch, set by the training seed and the epoch number
        alone (not by the random state), so that a run resumed from a checkpoint sees the same
        order as an uninterrupted one; with several processes each takes its share of it (the
        last few repeated so that all have as many batches). Evaluation and prediction, with
        several processes: each takes every ``world_size``-th image, none twice, so no image is
        counted twice in the metrics or written twice.
        """
        replicas, rank = self._replicas()
        if shuffle:
            seed = int(os.environ.get("PL_GLOBAL_SEED", self.seed))  # set by seed_everything
            return DistributedSampler(
                dataset, num_replicas=replicas, rank=rank, shuffle=True, seed=seed
            )
        if replicas == 1:
            return None
        if len(dataset) < replicas:  # type: ignore[arg-type]
            raise ConfigError(  # on every process alike: a process with no image would stall
                f"{len(dataset)} images cannot be shared by {replicas} processes; "  # type: ignore[arg-type]
                "use fewer devices (e.g. --trainer.devices 1)"
            )
        return UnrepeatedDistributedSampler(
            dataset, num_replicas=replicas, rank=rank, shuffle=False
        )

    def _device(self) -> torch.device:
        """Return the device the model runs on (this process's under DDP), the CPU without a Trainer."""
        strategy = getattr(self.trainer, "strategy", None)
        return strategy.root_device if strategy is not None else torch.device("cpu")

    def _loader(
        self, dataset: Dataset[Any], shuffle: bool = False, on_device: bool | None = None
    ) -> DataLoader[Any] | DeviceBatches:
        """Batches of ``dataset``: formed on the device for MNIST (``on_device``), else a DataLoader."""
        # overfit_batches makes Lightning swap a DataLoader's sampler for an ordered one
        overfit = getattr(self.trainer, "overfit_batches", 0)
        on_device = (self.on_device if on_device is None else on_device) and not overfit
        if on_device and isinstance(dataset, TensorImages):
            sampler = self._sampler(dataset, shuffle)
            return DeviceBatches(
                dataset.images, dataset.labels, self.batch_size, self._device(), sampler
            )
        folder = isinstance(dataset, FolderImages | NumberImages)
        workers = self.num_workers
        if workers is None:
            workers = min(_cpu_count(), MAX_AUTO_WORKERS) if folder else 0
        if folder and workers > 0 and self._threads is None:
            # The workers decode on their own cores; the model gets the rest, at least one.
            # (2 cores: 2,150 images/s end to end with 1 model thread, 1,850 with 2.)
            self._threads = torch.get_num_threads()
            torch.set_num_threads(max(1, self._threads - workers))
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=self._sampler(dataset, shuffle),
            num_workers=workers,
            # the workers' seeds come from here, not from the global random state (which a
            # resumed run restores from the checkpoint: see MNISTClassifier.on_save_checkpoint)
            generator=torch.Generator().manual_seed(self.seed),
            pin_memory=self.pin_memory,
            persistent_workers=workers > 0 and not folder,  # folders are read once
            collate_fn=(
                collate_numbers
                if isinstance(dataset, NumberImages)
                else collate_folder
                if folder
                else keep_batch
            ),
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalise on the device, after the cheap uint8 copy: (B, 1, 28, 28) uint8 -> float32.

        Training batches are then distorted at random where ``augment_*`` ask for it.
        """
        if isinstance(batch, Tensor):  # the model summary's example input, already normalised
            return batch
        if isinstance(batch, NumberBatch):
            return batch._replace(images=normalize(batch.images, self.mean, self.std))
        if isinstance(batch, FolderBatch):
            if self.trainer is not None and self.trainer.testing:
                self.failures += batch.failures
            return batch._replace(images=normalize(batch.images, self.mean, self.std))
        images, labels = batch
        images = normalize(images, self.mean, self.std)
        if self.trainer is not None and self.trainer.training:
            images = random_affine(
                images,
                self.augment_degrees,
                self.augment_shift,
                self.augment_scale,
                background=-self.mean / self.std,  # black
            )
            images = degrade(
                images, self.augment_degrade, self.mean, self.std, margins=self.augment_margins
            )
        return images, labels

    def teardown(self, stage: str) -> None:
        """Give the model its threads back; after ``test``, name the files that could not be used."""
        if self._threads is not None:
            torch.set_num_threads(self._threads)
            self._threads = None
        if stage == "test":  # every process's failures, on every process (DDP)
            self.failures = sorted(item for part in gather(self.failures) for item in part)
        if stage == "test" and self.failures and self._replicas()[1] == 0:
            shown = "".join(f"\n  {name}: {reason}" for name, _, reason in self.failures[:20])
            more = (
                f"\n  ... and {len(self.failures) - 20:,} more" if len(self.failures) > 20 else ""
            )
            log.warning(
                f"{_files(len(self.failures))} of {self.custom_dir} could not be used and "
                f"{'is' if len(self.failures) == 1 else 'are'} not counted in the accuracy:"
                f"{shown}{more}"
            )


def _files(count: int) -> str:
    return f"{count:,} file" + ("" if count == 1 else "s")


def _cpu_count() -> int:
    """CPU cores this process may use (its affinity, e.g. a container's share), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


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
