"""How many images that are not digits each model flags as unsure, at its own unsure threshold.

    python benchmarks/non_digits.py --ckpt_path '[lightning_logs/version_0/checkpoints/best-....ckpt]'
    python benchmarks/non_digits.py --ckpt_path best --out non_digits   # also keep the images

Builds a varied set of non-digits (seeded), reads each image as ``predict`` does (``preprocess``,
then the checkpoint's calibrated probabilities) and prints, per model: the share of MNIST's test
digits flagged unsure (at most 1% by construction; the reference in the same run), and the share of
each kind of non-digit flagged. The kinds:

- ``letters``: the letters that do not look like digits (not O, I, l, S, Z, B, b, g, q, ...)
  printed in every DejaVu font at 64 px, turned by -8 to 8 degrees;
- ``scribbles``: one to three random pen strokes;
- ``shapes``: squares, triangles, stars, cross-hatching, filled polygons, arrows, smileys, dots;
- ``photo-crops``: random crops of the photographs and scans matplotlib ships as sample data.

An image in which the preprocessing finds no ink at all is refused before the network
(``predict`` writes its reason in the ``error`` column); it counts as flagged and is reported as
``refused``. For comparison the script also prints, for the same network, the share that two other
scores (the largest logit, and the energy ``logsumexp``) would flag at a threshold that flags
exactly 1% of MNIST's test digits. With ``--out`` the images are kept as PNG in one folder per kind,
for ``predict --data.predict_dir``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from common import header
from matplotlib import cbook
from PIL import Image

from mnist_lit.data.datamodule import MNISTDataModule, TensorImages
from mnist_lit.data.preprocess import ImageError, preprocess
from mnist_lit.data.synthetic import SHAPES, fonts, printed, scribble, shape
from mnist_lit.models.calibration import UNCALIBRATED
from mnist_lit.robustness.command import model_names
from mnist_lit.robustness.suite import classify, logits_of
from mnist_lit.training.checkpoints import (
    load_checkpoint,
    model_from_checkpoint,
    resolve_checkpoint,
)
from mnist_lit.training.runs import DEFAULT_LOGGER_NAME

LETTERS = "ACEFHKLMNPRTUVWXYacdefhkmnprtuvwxy"
"""Letters whose printed shapes are not those of a digit (no O, I, l, S, Z, B, b, g, q, ...)."""

PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png")
"""matplotlib's sample photographs and drawings; crops of them are the photo-crop kind."""


def letters(rng: np.random.Generator) -> Iterator[Image.Image]:
    for font in fonts():
        if "Math" in font.name:
            continue
        for letter in LETTERS:
            yield printed(letter, font, 64, float(rng.uniform(-8, 8)))


def photo_crops(rng: np.random.Generator, count: int) -> Iterator[Image.Image]:
    photos = []
    for name in PHOTOS:
        with Image.open(cbook.get_sample_data(name)) as image:
            photos.append(image.convert("RGB"))
    for index in range(count):
        photo = photos[index % len(photos)]
        side = int(rng.integers(32, min(photo.size) // 2))
        left = int(rng.integers(0, photo.width - side))
        top = int(rng.integers(0, photo.height - side))
        yield photo.crop((left, top, left + side, top + side))


def non_digits(seed: int, count: int) -> dict[str, list[Image.Image]]:
    rng = np.random.default_rng(seed)
    return {
        "letters": list(letters(rng)),
        "scribbles": [scribble(rng) for _ in range(count)],
        "shapes": [shape(SHAPES[i % len(SHAPES)], rng) for i in range(count)],
        "photo-crops": list(photo_crops(rng, count)),
    }


def read(images: list[Image.Image]) -> tuple[torch.Tensor, int]:
    """Preprocess as ``predict`` does: ``(N, 1, 28, 28)`` in [0, 1] and how many were refused."""
    pixels, refused = [], 0
    for image in images:
        try:
            pixels.append(preprocess(image))
        except ImageError:
            refused += 1
    stacked = np.stack(pixels) if pixels else np.zeros((0, 28, 28), dtype=np.uint8)
    return torch.from_numpy(stacked).unsqueeze(1).float() / 255, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ckpt_path", nargs="+", default=["best"], help="best, last or .ckpt files"
    )
    parser.add_argument("--names", nargs="+", default=None, help="a name for each checkpoint")
    parser.add_argument("--mirror", default="../shared/data/mnist", help="MNIST files")
    parser.add_argument("--data-dir", default="data", help="where MNIST is kept")
    parser.add_argument("--count", type=int, default=400, help="scribbles, shapes, photo crops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the images here, one folder per kind")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args()

    print(header("Non-digits flagged unsure (benchmarks/non_digits.py)"))
    sets = non_digits(args.seed, args.count)
    if args.out:
        for kind, images in sets.items():
            folder = Path(args.out) / kind
            folder.mkdir(parents=True, exist_ok=True)
            for index, image in enumerate(images):
                image.save(folder / f"{kind}-{index:04d}.png")
        print(f"images written to {args.out}/<kind>/")
    read_sets = {kind: read(images) for kind, images in sets.items()}
    dm = MNISTDataModule(data_dir=args.data_dir, mirror=args.mirror)
    dm.prepare_data()
    dm.setup("test")
    assert isinstance(dm.test_set, TensorImages)
    digits = dm.test_set.images.unsqueeze(1).float() / 255

    paths = [resolve_checkpoint(spec, Path(DEFAULT_LOGGER_NAME)) for spec in args.ckpt_path]
    names = model_names(paths, args.names)
    kinds = list(read_sets)
    print(f"non-digits: {', '.join(f'{k} {len(sets[k])}' for k in kinds)}")
    print(f"{'model':<28}{'MNIST test':>11}" + "".join(f"{k:>13}" for k in kinds) + f"{'all':>9}")
    results = {}
    for name, path in zip(names, paths, strict=True):
        model = model_from_checkpoint(load_checkpoint(path), path)
        calibration = model.calibration or UNCALIBRATED
        if model.calibration is None:
            print(f"{name}: no calibration in the checkpoint; nothing is flagged")
        digit_probs = classify(model, digits, torch.device("cpu"))
        flagged = {"MNIST test": float(calibration.unsure(digit_probs).float().mean())}
        total_flagged = total = 0
        logits_all = []
        for kind, (images, refused) in read_sets.items():
            probs = (
                classify(model, images, torch.device("cpu")) if len(images) else torch.zeros(0, 10)
            )
            count = int(calibration.unsure(probs).sum()) + refused
            flagged[kind] = count / (len(images) + refused)
            total_flagged += count
            total += len(images) + refused
            logits_all.append(logits_of(model, images, torch.device("cpu")))
        flagged["all"] = total_flagged / total
        print(
            f"{name:<28}{100 * flagged['MNIST test']:10.2f}%"
            + "".join(f"{100 * flagged[k]:12.1f}%" for k in kinds)
            + f"{100 * flagged['all']:8.1f}%"
        )
        others = _other_scores(logits_of(model, digits, torch.device("cpu")), torch.cat(logits_all))
        print(
            "  at 1% of MNIST test digits flagged, non-digits flagged by: "
            + ", ".join(f"{score} {100 * share:.1f}%" for score, share in others.items())
            + " (images refused by the preprocessing not counted here)"
        )
        results[name] = {"checkpoint": str(path), "flagged": flagged, "other_scores": others}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def _other_scores(digits: torch.Tensor, others: torch.Tensor) -> dict[str, float]:
    """Share of ``others`` below the score that 1% of ``digits`` are below, per score."""
    scores = {
        "confidence": lambda z: z.softmax(dim=1).max(dim=1).values,
        "max logit": lambda z: z.max(dim=1).values,
        "energy": lambda z: torch.logsumexp(z, dim=1),
    }
    out = {}
    for name, score in scores.items():
        threshold = torch.quantile(score(digits).double(), 0.01)
        out[name] = float((score(others).double() < threshold).float().mean())
    return out


if __name__ == "__main__":
    main()
