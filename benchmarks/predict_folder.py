"""End-to-end `predict` throughput on a folder of PNG files: decode + preprocess + model + CSV.

    python benchmarks/predict_folder.py --ckpt_path best --mirror ../shared/data/mnist

Writes ``--count`` MNIST test digits as PNG files (``--kind mnist``: 28x28 grey, as exported from
MNIST; ``--kind paper``: dark ink on tinted noisy paper, RGB, 56-420 px a side) into labelled
subfolders, then runs ``python -m mnist_lit predict --data.predict_dir`` on them in this process
and prints images/s (the whole command, after imports), the peak memory of the main process and
of the largest DataLoader worker, and the accuracy read back from the CSV. For reference, measured
in the same run: the model alone on the same images already in memory, and decode + preprocess
alone in one process.
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_lit.cli import main as cli_main
from mnist_lit.data.datamodule import MNISTDataModule, TensorImages, normalize
from mnist_lit.data.preprocess import load_digit
from mnist_lit.data.synthetic import on_paper
from mnist_lit.training.device import cpu_model


def write_pngs(kind: str, images: np.ndarray, labels: np.ndarray, root: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i, (digit, label) in enumerate(zip(images, labels, strict=True)):
        path = root / str(label) / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        (Image.fromarray(digit) if kind == "mnist" else on_paper(digit, rng)).save(path)
        paths.append(path)
    return paths


@torch.inference_mode()
def model_only(model: torch.nn.Module, images: torch.Tensor, batch_size: int) -> float:
    start = time.perf_counter()
    for batch in images.split(batch_size):
        model(normalize(batch.unsqueeze(1))).softmax(1)
    return len(images) / (time.perf_counter() - start)


def preprocess_only(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        load_digit(path)
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", default=None, help="checkpoint (default: untrained model)")
    parser.add_argument("--mirror", default="../shared/data/mnist", help="MNIST files")
    parser.add_argument("--data-dir", default="data", help="where MNIST is kept")
    parser.add_argument("--kind", choices=["mnist", "paper"], default="mnist")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-workers", type=int, default=None, help="default: the CLI's")
    args = parser.parse_args()

    dm = MNISTDataModule(data_dir=args.data_dir, mirror=args.mirror)
    dm.prepare_data()
    dm.setup("test")
    assert isinstance(dm.test_set, TensorImages)
    images, labels = dm.test_set.images, dm.test_set.labels
    images, labels = images[: args.count], labels[: args.count]
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pngs"
        paths = write_pngs(args.kind, images.numpy(), labels.numpy(), folder)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{len(paths):,} {args.kind} PNG files, {megabytes:.1f} MB")

        out_csv = Path(tmp) / "predictions.csv"
        command = [
            "predict", "--config", "configs/default.yaml",
            "--data.predict_dir", str(folder),
            "--data.batch_size", str(args.batch_size),
            "--trainer.default_root_dir", tmp,
            "--trainer.enable_progress_bar", "false",
            "--predictions", str(out_csv),
        ]  # fmt: skip
        if args.ckpt_path:
            command += ["--ckpt_path", args.ckpt_path]
        if args.num_workers is not None:
            command += ["--data.num_workers", str(args.num_workers)]
        start = time.perf_counter()
        cli = cli_main(command)
        seconds = time.perf_counter() - start
        rows = list(csv.DictReader(out_csv.open()))
        correct = sum(row["prediction"] == row["path"].split("/")[0] for row in rows)
        main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        model = cli.model.eval().to(memory_format=torch.channels_last)  # as predict runs it
        reference_model = model_only(model, images, args.batch_size)
        reference_pre = preprocess_only(paths[:2000])

    print(f"\npredict, end to end: {len(rows) / seconds:,.0f} images/s ({seconds:.1f} s)")
    print(f"  accuracy from the CSV: {100 * correct / len(rows):.2f}%")
    print(f"  peak memory: main process {main_peak:,.0f} MB, largest worker {worker_peak:,.0f} MB")
    print(f"reference: model alone, batch {args.batch_size}: {reference_model:,.0f} images/s")
    print(f"reference: decode + preprocess alone, one process: {reference_pre:,.0f} images/s")


if __name__ == "__main__":
    main()
