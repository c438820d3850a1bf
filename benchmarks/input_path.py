"""Input-path throughput: mnist_lit's uint8-tensor batches vs torchvision's per-image transforms.

    python benchmarks/input_path.py --mirror ../shared/data/mnist

Iterates over the 60,000 training images once per repeat with batch size 32 (the reference's), no
model, the two paths alternated after a warm-up pass, and prints images/s of each, the medians and
their ratio, with the CPU it ran on.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST

from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.training.device import cpu_model


def images_per_second(loader: DataLoader, prepare=lambda batch: batch) -> float:  # type: ignore[type-arg, no-untyped-def]
    start, count = time.perf_counter(), 0
    for batch in loader:
        images, _ = prepare(batch)
        count += len(images)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mirror", default="../shared/data/mnist", help="folder with the MNIST files"
    )
    parser.add_argument(
        "--data-dir", default=None, help="where to keep the data (default: a temp dir)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or tmp
        dm = MNISTDataModule(
            data_dir=data_dir, mirror=args.mirror, val_size=0, batch_size=args.batch_size
        )
        dm.prepare_data()
        dm.setup("fit")
        ours_loader = dm.train_dataloader()
        reference = MNIST(
            data_dir,
            train=True,
            transform=transforms.Compose(
                [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
            ),
        )
        reference_loader = DataLoader(reference, batch_size=args.batch_size, shuffle=True)

        print(
            f"CPU: {cpu_model()}, {torch.get_num_threads()} threads; batch size {args.batch_size}"
        )
        for loader in (reference_loader, ours_loader):  # warm-up: first touches of memory
            images_per_second(loader)
        refs, ours = [], []
        for repeat in range(1, args.repeats + 1):  # alternated, so drift affects both alike
            refs.append(images_per_second(reference_loader))
            ours.append(images_per_second(ours_loader, lambda b: dm.on_after_batch_transfer(b, 0)))
            print(
                f"repeat {repeat}: torchvision transforms {refs[-1]:10,.0f} img/s | "
                f"mnist_lit uint8 tensor {ours[-1]:10,.0f} img/s"
            )
        ref, our = statistics.median(refs), statistics.median(ours)
        print(
            f"median: torchvision {ref:,.0f} img/s, mnist_lit {our:,.0f} img/s, ratio {our / ref:.1f}x"
        )


if __name__ == "__main__":
    main()
