"""Numbers read entirely right: MNIST *test* digits written as numbers of 2-6 digits, as photos.

    python benchmarks/read_numbers.py --ckpt_path best --mirror ../shared/data/mnist

Each number is made of random MNIST test digits (never training digits; ``--split train`` is for
tuning), each scaled by up to ±15% and moved up or down by up to 3 px (at 28 px a digit), written
at one of the gaps (columns between neighbouring digits' ink, at 28 px a digit: 8 wide, 4, 1
tight, 0 boxes abutting, -2 and -4 overlapping so that strokes touch), then photographed:
half dark ink on tinted, unevenly lit paper (JPEG), half light strokes on a dark background (PNG)
(``data/synthetic.py``: ``written_number``, ``photo``). It prints the share of numbers whose every
digit is read right, by gap and by length, and the time per number, for mnist_lit's reader
(``numbers/``) and, as the reference measured in the same run, a plain reader: connected
components, pieces merged where they overlap horizontally, each read by the same network; and
the network's limit: the share of numbers whose digits it reads right each on its own, as the
28x28 MNIST images (a number is read right only if every digit is).
``--out`` keeps the photos, named by their number, as a folder to try ``predict`` on.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
from common import header, prepare_mnist
from PIL import Image
from scipy import ndimage
from torchvision.datasets.mnist import read_image_file, read_label_file

from mnist_lit.data.mnist import raw_folder
from mnist_lit.data.preprocess import (
    ImageError,
    drop_specks,
    find_ink,
    fit_to_mnist,
    grey_levels,
    normalize,
)
from mnist_lit.data.synthetic import photo, written_number
from mnist_lit.demo.recognise import Recogniser

GAPS = {
    "wide (8)": 8,
    "normal (4)": 4,
    "tight (1)": 1,
    "abutting (0)": 0,
    "touching (-2)": -2,
    "touching (-4)": -4,
}
LENGTHS = (2, 3, 4, 5, 6)


def make_numbers(
    images: np.ndarray, labels: np.ndarray, per_cell: int, seed: int
) -> list[tuple[str, int, str, Image.Image, np.ndarray]]:
    """(gap name, length, number, photo, digits' indices) per gap and length, ``per_cell`` each."""
    rng = np.random.default_rng(seed)
    numbers = []
    for name, gap in GAPS.items():
        for length in LENGTHS:
            for i in range(per_cell):
                picks = rng.integers(0, len(labels), size=length)
                strip = written_number([images[p] for p in picks], gap, rng).strip
                dark = i % 2 == 1
                image = photo(strip, rng, light_on_dark=dark)
                if not dark:  # a phone's JPEG
                    buffer = io.BytesIO()
                    image.save(buffer, format="JPEG", quality=85)
                    image = Image.open(io.BytesIO(buffer.getvalue()))
                truth = "".join(str(int(labels[p])) for p in picks)
                numbers.append((name, length, truth, image, picks))
    return numbers


class PlainReader:
    """The reference: connected components, merged where they overlap horizontally, each read."""

    def __init__(self, recogniser: Recogniser) -> None:
        self.recogniser = recogniser

    @torch.inference_mode()
    def __call__(self, image: Image.Image) -> str:
        ink = drop_specks(find_ink(grey_levels(image, 4096)))
        labels, _count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
        spans = sorted(
            (s[1].start, s[1].stop, i + 1) for i, s in enumerate(ndimage.find_objects(labels))
        )
        groups: list[list[int]] = []
        right = -1
        for start, stop, label in spans:
            if groups and start < right:
                groups[-1].append(label)
                right = max(right, stop)
            else:
                groups.append([label])
                right = stop
        digits = [fit_to_mnist(np.where(np.isin(labels, g), ink, 0)) for g in groups]
        batch = normalize(
            torch.from_numpy(np.stack(digits))[:, None], self.recogniser.mean, self.recogniser.std
        )
        return "".join(str(int(d)) for d in self.recogniser.net(batch).argmax(dim=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt_path", default="best", help="best, last or a .ckpt file")
    parser.add_argument("--mirror", default="../shared/data/mnist")
    parser.add_argument("--data_dir", default="data")
    parser.add_argument("--per_cell", type=int, default=40, help="numbers per gap and length")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the photos here")
    parser.add_argument("--no_plain", action="store_true", help="skip the reference")
    args = parser.parse_args()
    torch.set_num_threads(1)
    prepare_mnist(Path(args.data_dir), args.mirror)
    prefix = "t10k" if args.split == "test" else "train"
    images = read_image_file(str(raw_folder(args.data_dir) / f"{prefix}-images-idx3-ubyte")).numpy()
    labels = read_label_file(str(raw_folder(args.data_dir) / f"{prefix}-labels-idx1-ubyte")).numpy()
    numbers = make_numbers(images, labels, args.per_cell, args.seed)
    recogniser = Recogniser.from_checkpoint(args.ckpt_path)
    with torch.inference_mode():  # the network's limit: each MNIST digit read on its own
        digits = torch.from_numpy(images[np.concatenate([n[4] for n in numbers])])[:, None]
        right = (
            recogniser.net(normalize(digits, recogniser.mean, recogniser.std)).argmax(dim=1).numpy()
            == labels[np.concatenate([n[4] for n in numbers])]
        )
    ceiling: dict[str, list[bool]] = {}
    start = 0
    for name, length, *_ in numbers:
        ceiling.setdefault(name, []).append(bool(right[start : start + length].all()))
        start += length
    readers = {"mnist_lit": recogniser.number_reader()}
    if not args.no_plain:
        readers["plain"] = PlainReader(recogniser)  # type: ignore[assignment]
    print(header(f"Numbers read entirely right ({args.split} digits, {len(numbers)} numbers)"))
    print(f"Model: {recogniser.path}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for index, (name, _, truth, image, _) in enumerate(numbers):
            gap = GAPS[name]
            image.save(args.out / f"{index:04d}_gap{gap}_{truth}.png")
    results: dict[str, dict[tuple[str, int], list[bool]]] = {}
    seconds: dict[str, float] = {}
    wrong: list[str] = []
    for reader_name, reader in readers.items():
        cells: dict[tuple[str, int], list[bool]] = {}
        start = time.perf_counter()
        for name, length, truth, image, _ in numbers:
            try:
                got = reader(image)
                read = got if isinstance(got, str) else got.number
            except ImageError:
                read = ""
            cells.setdefault((name, length), []).append(read == truth)
            if read != truth and reader_name == "mnist_lit":
                wrong.append(f"{name} {truth} -> {read}")
        seconds[reader_name] = (time.perf_counter() - start) / len(numbers)
        results[reader_name] = cells
    columns = [*(str(n) for n in LENGTHS), "all"]
    print(
        f"\n| gap | {' | '.join(f'{c} digits' if c != 'all' else 'all' for c in columns)} "
        "| plain reader, all | each digit alone, all |"
    )
    print(f"|---|{'---:|' * (len(columns) + 2)}")
    for name in GAPS:
        cells = results["mnist_lit"]
        row = [np.mean(cells[(name, n)]) for n in LENGTHS]
        row.append(np.mean([v for n in LENGTHS for v in cells[(name, n)]]))
        plain = results.get("plain", {})
        reference = (
            np.mean([v for n in LENGTHS for v in plain[(name, n)]]) if plain else float("nan")
        )
        alone = np.mean(ceiling[name])
        print(f"| {name} | {' | '.join(f'{v:.1%}' for v in row)} | {reference:.1%} | {alone:.1%} |")
    for reader_name, cells in results.items():
        apart = [v for (g, _), vs in cells.items() if GAPS[g] >= 0 for v in vs]
        touching = [v for (g, _), vs in cells.items() if GAPS[g] < 0 for v in vs]
        every = [v for vs in cells.values() for v in vs]
        print(
            f"{reader_name}: apart (gap >= 0) {np.mean(apart):.1%}, touching {np.mean(touching):.1%}, "
            f"all {np.mean(every):.1%}; {seconds[reader_name] * 1000:.1f} ms per number"
        )
    if "plain" in seconds:
        print(f"time ratio mnist_lit / plain: {seconds['mnist_lit'] / seconds['plain']:.1f}x")
    print("\nsome misreadings:\n  " + "\n  ".join(wrong[:25]))


if __name__ == "__main__":
    main()
