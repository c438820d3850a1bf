"""Time per attribution map, per method, against the demo's reading of one image.

    python benchmarks/explain.py --ckpt_path best --mirror ../shared/data/mnist

For Integrated Gradients (32 steps), Occlusion (4x4 patches, stride 2) and Grad-CAM, the median
time of a map of one image (what the demo pays per stroke) and per map in a batch of 20 (what the
report and TensorBoard pay), beside the reference measured in the same run: one reading of one
28x28 image by the demo's ``Recogniser`` without its map (normalise, forward, softmax).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import header

from mnist_lit.data.preprocess import normalize
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.explain import METHODS, Explainer


def median_ms(work: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``work`` in milliseconds, after two warm-up calls."""
    work(), work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt_path", default="best")
    parser.add_argument("--logs", default="lightning_logs")
    parser.add_argument("--mirror", default="../shared/data/mnist")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:  # 1 gives steadier figures on a machine shared with other work
        torch.set_num_threads(args.threads)
    print(header("Attribution maps: time per map"))
    recognise = Recogniser.from_checkpoint(args.ckpt_path, args.logs, explain=False)
    with gzip.open(Path(args.mirror) / "t10k-images-idx3-ubyte.gz") as file:
        pixels = (
            np.frombuffer(file.read(), np.uint8, offset=16)[: 20 * 784].reshape(20, 28, 28).copy()
        )
    images = normalize(torch.from_numpy(pixels)[:, None], recognise.mean, recognise.std)
    reading = median_ms(lambda: recognise.classify(pixels[0]), 5 * args.repeats)
    print(f"reference: one reading by the demo's Recogniser, no map: {reading:.2f} ms")
    explain = Explainer(recognise.net, recognise.mean, recognise.std)
    print(f"{'method':<22} {'one image':>10} {'x reading':>10} {'per map, 20':>12}")
    for method in METHODS:
        one = median_ms(lambda m=method: explain(images[:1], m), args.repeats)
        batch = median_ms(lambda m=method: explain(images, m), max(3, args.repeats // 5)) / 20
        print(f"{method:<22} {one:>8.1f} ms {one / reading:>9.1f}x {batch:>9.1f} ms")


if __name__ == "__main__":
    main()
