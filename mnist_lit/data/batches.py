"""Batches of an in-memory split formed on the training device: no DataLoader, no copy per step.

    python -m mnist_lit fit --config configs/default.yaml --data.on_device true

The whole split (MNIST: 60,000 x 28 x 28 bytes = 47 MB as ``uint8``) is moved to the device once;
each epoch the order of the images is drawn on the host (one index tensor, copied once per epoch)
and every batch is one indexing operation on the device. A GPU then never waits for a host-to-
device copy or a DataLoader between steps; on a CPU it is the input path with the least Python per
batch. The order is exactly that of a ``DataLoader`` with the same sampler, so a run gives the
same batches either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import Sampler

Batch = tuple[Tensor, Tensor]


class DeviceBatches:
    """Batches of ``(B, 1, 28, 28)`` uint8 images and ``(B,)`` labels, formed on ``device``.

    An iterable Lightning accepts wherever a ``DataLoader`` goes. It exposes ``sampler`` (and
    ``batch_sampler``, ``None``) as a ``DataLoader`` does, so the Trainer calls
    ``sampler.set_epoch(epoch)`` before each epoch (a new shuffle per epoch; under DDP each
    process's share) and leaves the sampler alone otherwise.

    Args:
        images: ``(N, 28, 28)`` uint8 pixels, on any device.
        labels: ``(N,)`` int64 digits.
        batch_size: Images per batch; the last batch may be smaller.
        device: Where the images are kept and the batches formed.
        sampler: Which images, in which order (e.g. ``DistributedSampler``); ``None`` takes all of
            them in order.

    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        device: torch.device,
        sampler: Sampler[int] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.batch_size = batch_size
        self.device = device
        self.sampler = sampler
        self.batch_sampler = None

    def __len__(self) -> int:
        size = len(self.sampler) if self.sampler is not None else len(self.labels)  # type: ignore[arg-type]
        return math.ceil(size / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        if self.sampler is None:
            for start in range(0, len(self.labels), self.batch_size):
                stop = start + self.batch_size
                yield self.images[start:stop].unsqueeze(1), self.labels[start:stop]
            return
        # drawn on the host, once an epoch
        order = torch.tensor(list(self.sampler), dtype=torch.long)
        if self.device.type == "cuda":  # from page-locked memory: a copy that does not wait
            order = order.pin_memory().to(self.device, non_blocking=True)
        else:
            order = order.to(self.device)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.images[index].unsqueeze(1), self.labels[index]
