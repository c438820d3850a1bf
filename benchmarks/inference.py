"""Inference throughput on the 10,000 MNIST test images: ``predict`` against a plain no_grad loop.

    python benchmarks/inference.py --ckpt_path best --mirror ../shared/data/mnist

For each batch size (``--batch-sizes``, default the default config's 32 and 256), in one process
and alternated over ``--rounds``, with the checkpoint's weights:

- **plain loop**: ``net.eval()``, ``torch.no_grad()``, a batch from the uint8 tensor normalised,
  forward, softmax: what a user writes by hand (weights in PyTorch's default layout);
- **plain loop, channels-last**: the same with the weights stored channels-last, the layout
  mnist_lit predicts with on a CPU (see ``mnist_lit.models.layout.fast_cpu_layout``);
- **Lightning predict**: ``Trainer.predict`` on the LightningModule with the datamodule's test
  images, in this process (model and Lightning's loop; no CSV);

then, once per batch size, **the CLI end to end**: ``python -m mnist_lit predict --ckpt_path ...``
in a new process, whose predictions CSV is timed from the start of prediction until the file is in
place (the images/s it prints); its whole-command wall time, mostly Python imports, is shown apart.
A new process pays for oneDNN's first-call set-up, which the warm loops above have behind them, so
the CLI is compared with **the plain channels-last loop's first pass in a new process** as well.
Every variant's accuracy is printed beside its speed.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import ROOT, header, prepare_mnist, run_process
from lightning.pytorch import Trainer

from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.data.preprocess import normalize
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.training.checkpoints import (
    load_checkpoint,
    model_from_checkpoint,
    network_from_checkpoint,
    resolve_checkpoint,
)


def plain_loop(
    net: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch: int,
    mean: float,
    std: float,
) -> tuple[float, float]:
    """Images/s and accuracy of a hand-written no_grad loop."""
    net.eval()
    correct = 0
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = normalize(images[i : i + batch].unsqueeze(1), mean, std)
            probabilities = net(x).softmax(dim=1)
            correct += int((probabilities.argmax(dim=1) == labels[i : i + batch]).sum())
    return len(images) / (time.perf_counter() - start), correct / len(images)


def lightning_predict(model: MNISTClassifier, dm: MNISTDataModule) -> tuple[float, float]:
    """Images/s and accuracy of ``Trainer.predict`` (no writer, predictions returned)."""
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    outputs = trainer.predict(model, datamodule=dm)
    seconds = time.perf_counter() - start
    assert outputs is not None
    predicted = torch.cat([o.probabilities.argmax(dim=1) for o in outputs])  # type: ignore[union-attr]
    assert dm.predict_set is not None
    return len(predicted) / seconds, float((predicted == dm.predict_set.labels).float().mean())  # type: ignore[union-attr]


def cli_predict(
    ckpt: Path, data_dir: Path, mirror: str, batch: int, out: Path
) -> tuple[float, float, float]:
    """Images/s printed by the CLI, its accuracy (from the CSV) and the command's wall time."""
    csv_path = out / f"predictions_{batch}.csv"
    run = run_process(
        [sys.executable, "-m", "mnist_lit", "predict", "--config", str(ROOT / "configs/default.yaml"),
         "--ckpt_path", str(ckpt), "--data.batch_size", str(batch), "--data.mirror", mirror,
         "--data.data_dir", str(data_dir), "--trainer.default_root_dir", str(out),
         "--predictions", str(csv_path), "--trainer.accelerator", "cpu"]
    )  # fmt: skip
    found = [
        m for line in run.lines if (m := re.search(r"in [\d.]+ s \(([\d,]+) images/s\)", line))
    ]
    if not found:
        raise SystemExit("predict printed no speed:\n" + "\n".join(run.lines[-20:]))
    rows = csv_path.read_text().splitlines()[1:]
    correct = sum(row.split(",")[1] == row.split(",")[2] for row in rows)
    return float(found[-1][1].replace(",", "")), correct / len(rows), run.wall


def cold_plain(ckpt: Path, data_dir: Path, batch: int) -> float:
    """Images/s of the plain channels-last loop's first pass, in a new process."""
    run = run_process([sys.executable, __file__, "--worker", str(ckpt), str(data_dir), str(batch)])
    return float(run.lines[-1])


def cold_worker(ckpt: str, data_dir: str, batch: int) -> None:
    """Print the images/s of one pass of the plain channels-last loop (run in a new process)."""
    checkpoint = load_checkpoint(ckpt)
    net = network_from_checkpoint(checkpoint, ckpt).to(memory_format=torch.channels_last)
    hp = checkpoint["hyper_parameters"]
    dm = MNISTDataModule(data_dir=data_dir, download=False)
    dm.prepare_data()
    dm.setup("predict")
    assert dm.predict_set is not None
    speed, _ = plain_loop(
        net, dm.predict_set.images, dm.predict_set.labels, batch, hp["mean"], hp["std"]
    )  # type: ignore[union-attr]
    print(speed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", default="best", help="best, last or a .ckpt file")
    parser.add_argument("--logs", default="lightning_logs", help="where best/last are looked for")
    parser.add_argument("--mirror", default="../shared/data/mnist", help="folder or URL with MNIST")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        cold_worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return

    ckpt = resolve_checkpoint(args.ckpt_path, Path(args.logs))
    print(header(f"inference on the 10,000 MNIST test images, fp32; checkpoint {ckpt}"), flush=True)
    checkpoint = load_checkpoint(ckpt)
    model = model_from_checkpoint(checkpoint, ckpt)
    mean, std = model.hparams["mean"], model.hparams["std"]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_mnist(Path(tmp) / "data", args.mirror)
        for batch in args.batch_sizes:
            dm = MNISTDataModule(
                data_dir=str(data_dir), download=False, batch_size=batch, mean=mean, std=std
            )
            dm.prepare_data()
            dm.setup("predict")
            assert dm.predict_set is not None
            images, labels = dm.predict_set.images, dm.predict_set.labels  # type: ignore[union-attr]
            plain = network_from_checkpoint(checkpoint, ckpt)
            fast = network_from_checkpoint(checkpoint, ckpt).to(memory_format=torch.channels_last)
            results: dict[str, list[tuple[float, float]]] = {
                "plain": [],
                "plain channels-last": [],
                "Lightning predict": [],
            }
            for _ in range(args.rounds):
                results["plain"].append(plain_loop(plain, images, labels, batch, mean, std))
                results["plain channels-last"].append(
                    plain_loop(fast, images, labels, batch, mean, std)
                )
                results["Lightning predict"].append(lightning_predict(model, dm))
            speed = {name: statistics.median(s for s, _ in runs) for name, runs in results.items()}
            shown = ", ".join(
                f"{name} {speed[name]:,.0f} img/s ({100 * runs[0][1]:.2f}%)"
                for name, runs in results.items()
            )
            print(f"batch {batch}, median of {args.rounds}: {shown}", flush=True)
            cli_speed, cli_acc, wall = cli_predict(ckpt, data_dir, args.mirror, batch, Path(tmp))
            cold = cold_plain(ckpt, data_dir, batch)
            print(
                f"batch {batch}: CLI predict {cli_speed:,.0f} img/s ({100 * cli_acc:.2f}%; the whole "
                f"command {wall:.1f} s, imports and startup included); plain channels-last loop, "
                f"first pass in a new process: {cold:,.0f} img/s"
            )
            name = "Lightning predict"
            print(
                f"batch {batch}: {name} / plain loop {speed[name] / speed['plain']:.2f}x, "
                f"/ plain channels-last {speed[name] / speed['plain channels-last']:.2f}x (warm); "
                f"CLI / plain {cli_speed / speed['plain']:.2f}x, / plain channels-last (warm) "
                f"{cli_speed / speed['plain channels-last']:.2f}x, / the same in a new process "
                f"{cli_speed / cold:.2f}x (target >= 0.9x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
