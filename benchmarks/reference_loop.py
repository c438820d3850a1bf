"""The reference system's training loop, as its blog writes it, for the benchmarks to measure against.

    python benchmarks/reference_loop.py --data-dir DIR --epochs 3

torchvision's ``MNIST`` with ``ToTensor`` + ``Normalize((0.5,), (0.5,))``, batches of 32, the
reference CNN, cross-entropy and Adam (lr 1e-3); after each epoch the 10,000 test images are scored.
Prints one JSON line per epoch (training seconds and images/s, test accuracy, seconds since the
process started) so that a benchmark running it as a subprocess can read them as they come.
Deliberately plain PyTorch: nothing of mnist_lit is imported.
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before the imports: the process's own startup is part of its time

import argparse  # noqa: E402
import json  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision.transforms as transforms  # noqa: E402
from torch import optim  # noqa: E402
from torch.nn import Conv2d, CrossEntropyLoss, Linear, MaxPool2d, ReLU  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torchvision.datasets import MNIST  # noqa: E402


class MnistModel(nn.Module):
    """The reference CNN exactly as the blog defines it (ReLU after pooling, no ReLU between fcs)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels=1, out_channels=32, kernel_size=3, stride=1, padding=1)
        self.maxpool1 = MaxPool2d(2)
        self.conv2 = Conv2d(in_channels=32, out_channels=64, kernel_size=3, stride=1, padding=1)
        self.maxpool2 = MaxPool2d(2)
        self.conv3 = Conv2d(in_channels=64, out_channels=128, kernel_size=3, stride=1, padding=1)
        self.maxpool3 = MaxPool2d(2)
        self.fc1 = Linear(in_features=128 * 3 * 3, out_features=128)
        self.fc2 = Linear(in_features=128, out_features=64)
        self.fc3 = Linear(in_features=64, out_features=10)
        self.ReLU = ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ReLU(self.maxpool1(self.conv1(x)))
        x = self.ReLU(self.maxpool2(self.conv2(x)))
        x = self.ReLU(self.maxpool3(self.conv3(x)))
        x = x.view(x.size(0), -1)
        x = self.fc1(x)
        x = self.fc2(x)
        return self.fc3(x)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="holds MNIST/raw/ (uncompressed files)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--stop-at", type=float, default=None, help="stop once test accuracy reaches this (0-1)"
    )
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train_data = MNIST(args.data_dir, train=True, transform=transform, download=False)
    test_data = MNIST(args.data_dir, train=False, transform=transform, download=False)
    train_loader = DataLoader(train_data, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_data, batch_size=32, shuffle=False)

    model = MnistModel()
    criterion = CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    for epoch in range(1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        train_seconds = time.perf_counter() - started
        model.eval()
        correct = 0
        with torch.no_grad():
            for images, labels in test_loader:
                correct += (model(images).argmax(dim=1) == labels).sum().item()
        accuracy = correct / len(test_data)
        record = {
            "epoch": epoch,
            "train_seconds": train_seconds,
            "images_per_second": len(train_data) / train_seconds,
            "test_acc": accuracy,
            "elapsed": time.perf_counter() - START,
        }
        print(json.dumps(record), flush=True)
        if args.stop_at is not None and accuracy >= args.stop_at:
            break


if __name__ == "__main__":
    main()
