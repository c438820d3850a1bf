"""What Lightning costs: the reference's plain PyTorch loop against ``fit --config configs/default.yaml``.

    python benchmarks/overhead.py --mirror ../shared/data/mnist            # 3 rounds, ~8 min on 2 cores
    python benchmarks/overhead.py --mirror ../shared/data/mnist --rounds 1

Same network, batch size (32), optimizer (Adam 1e-3), epochs and data (all 60,000 training images:
``--data.val_size 0``, as the reference has no validation split), each run a fresh process, the
variants alternated so that a noisy machine affects them alike:

- **reference**: ``benchmarks/reference_loop.py``, the blog's loop (torchvision transforms);
- **mnist_lit fit**: the CLI with the default config, progress bar and TensorBoard logging on,
  checkpoints written, plus a callback that times the training steps and scores the test set;
- **plain loop, same step**: a hand-written loop over the same batches, layout and optimizer as
  ``fit`` (mnist_lit's uint8 batches, weights channels-last on a CPU): what is left is Lightning's own cost.

Images/s count the training steps only (each epoch from its first batch to the end of its last);
startup and test passes are excluded for every variant and reported apart. The test accuracy after
the last epoch is printed beside each figure.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import ROOT, Finished, header, prepare_mnist, run_process

RECORDER_LINE = r"test acc (?P<acc>[\d.]+)%.*trained (?P<seconds>[\d.]+) s"


def reference(data_dir: Path, epochs: int) -> dict[str, float]:
    run = run_process(
        [sys.executable, str(ROOT / "benchmarks/reference_loop.py"), "--data-dir", str(data_dir),
         "--epochs", str(epochs)]
    )  # fmt: skip
    records = [json.loads(line) for line in run.lines if line.startswith("{")]
    seconds = sum(r["train_seconds"] for r in records)
    return {
        "img_s": 60_000 * epochs / seconds,
        "acc": records[-1]["test_acc"],
        "wall": run.wall,
    }


def ours(data_dir: Path, epochs: int, mirror: str, out: Path) -> dict[str, float]:
    callbacks = out / "recorder.yaml"
    callbacks.write_text(
        "trainer:\n  callbacks:\n    - class_path: mnist_lit.experiments.recorder.EpochRecorder\n"
    )
    run = run_process(
        [sys.executable, "-m", "mnist_lit", "fit", "--config", str(ROOT / "configs/default.yaml"),
         "--config", str(callbacks), "--data.mirror", mirror, "--data.data_dir", str(data_dir),
         "--data.val_size", "0", "--trainer.max_epochs", str(epochs),
         "--trainer.default_root_dir", str(out), "--trainer.accelerator", "cpu"]
    )  # fmt: skip
    return _recorded(run)


def plain(data_dir: Path, epochs: int) -> dict[str, float]:
    run = run_process([sys.executable, __file__, "--worker", str(data_dir), str(epochs)])
    return json.loads(run.lines[-1]) | {"wall": run.wall}


def _recorded(run: Finished) -> dict[str, float]:
    """Training images/s and the last test accuracy from EpochRecorder's progress lines."""
    epochs = [found for line in run.lines if (found := re.search(RECORDER_LINE, line))]
    if not epochs:
        raise SystemExit("fit printed no epoch record:\n" + "\n".join(run.lines[-20:]))
    seconds = sum(float(found["seconds"]) for found in epochs)
    return {
        "img_s": 60_000 * len(epochs) / seconds,
        "acc": float(epochs[-1]["acc"]) / 100,
        "wall": run.wall,
    }


def plain_worker(data_dir: str, epochs: int) -> None:
    """The same step as ``fit`` with the default config, in a hand-written loop."""
    import torch.nn.functional as F

    from mnist_lit.data.datamodule import MNISTDataModule
    from mnist_lit.evaluation import evaluate
    from mnist_lit.models.convnet import ConvNet

    torch.manual_seed(42)
    dm = MNISTDataModule(data_dir=data_dir, download=False, val_size=0, batch_size=32)
    dm.prepare_data()
    dm.setup("fit")
    net = ConvNet().to(memory_format=torch.channels_last)  # as MNISTClassifier trains on a CPU
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    seconds = 0.0
    for _ in range(epochs):
        started = time.perf_counter()
        for batch in dm.train_dataloader():
            images, labels = dm.on_after_batch_transfer(batch, 0)
            loss = F.cross_entropy(net(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds += time.perf_counter() - started
    dm.setup("test")
    from mnist_lit.models.classifier import MNISTClassifier

    model = MNISTClassifier()
    model.net = net.to(memory_format=torch.contiguous_format)
    accuracy = evaluate(model, dm, torch.device("cpu")).accuracy
    print(json.dumps({"img_s": len(dm.train_set) * epochs / seconds, "acc": accuracy}))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="../shared/data/mnist", help="folder or URL with MNIST")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        plain_worker(args.worker[0], int(args.worker[1]))
        return

    print(header(f"overhead: {args.epochs} epoch(s) of 60,000 images, batch 32, fp32"))
    results: dict[str, list[dict[str, float]]] = {"reference": [], "fit": [], "plain": []}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_mnist(Path(tmp) / "data", args.mirror)
        for round_ in range(1, args.rounds + 1):
            results["reference"].append(reference(data_dir, args.epochs))
            results["fit"].append(ours(data_dir, args.epochs, args.mirror, Path(tmp)))
            results["plain"].append(plain(data_dir, args.epochs))
            print(
                f"round {round_}: " + " | ".join(_show(name, r[-1]) for name, r in results.items()),
                flush=True,
            )
    median = {name: statistics.median(r["img_s"] for r in runs) for name, runs in results.items()}
    print(
        f"median images/s: reference {median['reference']:,.0f}, mnist_lit fit {median['fit']:,.0f}, "
        f"plain loop with fit's step {median['plain']:,.0f}"
    )
    print(
        f"fit / reference: {median['fit'] / median['reference']:.2f}x (target >= 1.0x); "
        f"fit / plain loop, same step: {median['fit'] / median['plain']:.2f}x (Lightning's own cost)"
    )


def _show(name: str, r: dict[str, float]) -> str:
    return f"{name} {r['img_s']:,.0f} img/s, {100 * r['acc']:.2f}%, process {r['wall']:.0f} s"


if __name__ == "__main__":
    main()
