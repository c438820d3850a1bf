"""Accuracy on users' kinds of images: MNIST test digits disguised as photos and canvas exports, and printed digits.

    python benchmarks/user_images.py --ckpt_path best --mirror ../shared/data/mnist

Writes each set as a labelled folder (``0/`` … ``9/``) under ``--out`` and scores a trained model
on it twice: through mnist_lit's preprocessing (what ``test --data.custom_dir`` and ``predict`` do)
and, as the reference measured in the same run, through a plain grey-scale resize to 28x28. The
sets:

- ``paper-jpeg`` / ``paper-png``: MNIST test digits in dark ink on tinted, unevenly lit, noisy
  paper, at a random size (56-168 px) and place, saved as RGB JPEG (quality 85) or PNG;
- ``canvas``: the same digits as 280x280 RGBA PNG canvas exports (strokes on transparency);
- ``printed``: the digits 0-9 in every DejaVu font installed, at 24, 48 and 96 px, turned by
  -10, -5, 0, 5 and 10 degrees, PNG.

Any folder written here can be scored with the CLI too:
``python -m mnist_lit test --config configs/default.yaml --ckpt_path best --data.custom_dir OUT/canvas``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mnist_lit.data.datamodule import MNISTDataModule, TensorImages, normalize
from mnist_lit.data.folders import FolderImages, collate_folder, list_labelled
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.robustness.own_images import Sample, mnist_sets, printed_set
from mnist_lit.training.checkpoints import resolve_checkpoint
from mnist_lit.training.device import cpu_model
from mnist_lit.training.runs import DEFAULT_LOGGER_NAME


def write(samples: Iterator[Sample], folder: Path, suffix: str) -> int:
    count = 0
    for count, (image, label) in enumerate(samples, start=1):
        target = folder / str(label) / f"{count:05d}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, quality=85) if suffix == ".jpg" else image.save(target)
    return count


def plain_resize(path: Path) -> torch.Tensor:
    """The reference: the file as a grey-scale 28x28 resize, no other preprocessing."""
    with Image.open(path) as image:
        grey = image.convert("L").resize((28, 28), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(grey).copy()).unsqueeze(0)


@torch.inference_mode()
def accuracy(
    model: MNISTClassifier, folder: Path, load: Callable[[Path], torch.Tensor] | None
) -> float:
    listing = list_labelled(folder)
    if load is None:  # mnist_lit's preprocessing, decoded in worker processes
        dataset = FolderImages(folder, listing)
        loader = DataLoader(dataset, batch_size=256, num_workers=2, collate_fn=collate_folder)
        correct = total = 0
        for batch in loader:
            logits = model(normalize(batch.images, model.hparams["mean"], model.hparams["std"]))
            correct += int((logits.argmax(1) == batch.labels).sum())
            total += len(batch.labels) + len(batch.failures)  # a failed file counts as wrong
        return correct / total
    images = torch.stack([load(folder / name) for name in listing.files])
    logits = model(normalize(images, model.hparams["mean"], model.hparams["std"]))
    return float((logits.argmax(1) == torch.tensor(listing.labels)).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", default="best", help="best, last or a .ckpt file")
    parser.add_argument("--mirror", default="../shared/data/mnist", help="MNIST files")
    parser.add_argument("--data-dir", default="data", help="where MNIST is kept")
    parser.add_argument("--count", type=int, default=500, help="MNIST test digits per set")
    parser.add_argument("--out", default=None, help="keep the sets here (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    checkpoint = resolve_checkpoint(args.ckpt_path, Path(DEFAULT_LOGGER_NAME))
    model = MNISTClassifier.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    dm = MNISTDataModule(data_dir=args.data_dir, mirror=args.mirror)
    dm.prepare_data()
    dm.setup("test")
    assert isinstance(dm.test_set, TensorImages)
    images, labels = dm.test_set.images, dm.test_set.labels
    pick = np.random.default_rng(args.seed).choice(len(labels), args.count, replace=False)
    sets = mnist_sets(images.numpy()[pick], labels.numpy()[pick], args.seed)
    sets["printed"] = printed_set()
    suffixes = {"paper-jpeg": ".jpg"}

    print(f"checkpoint: {checkpoint}")
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads")
    print(f"{'set':<11} {'images':>6}  {'mnist_lit':>9}  {'plain resize':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        for name, samples in sets.items():
            folder = root / name
            count = write(samples, folder, suffixes.get(name, ".png"))
            ours = accuracy(model, folder, None)
            plain = accuracy(model, folder, plain_resize)
            print(f"{name:<11} {count:>6}  {100 * ours:8.2f}%  {100 * plain:11.2f}%", flush=True)


if __name__ == "__main__":
    main()
