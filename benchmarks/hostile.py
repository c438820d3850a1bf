"""`predict` over a folder of hostile files: every one a row, in bounded time and memory.

    python benchmarks/hostile.py --ckpt_path best --mirror ../shared/data/mnist

Builds a folder of what a security review found (issue 26): a digit 1,200 folders down, a
progressive JPEG repeating its last scan 3,000 times (and one within the scan limits but slow),
64-megapixel RGBA, 16-bit and float images, ICO, ICNS and EPS files named ``.png``, a float TIFF at
float32's extremes, a file named as a spreadsheet formula, a 250-character name, a link loop, a
link to ``/etc/passwd`` named ``.png``, ``--fuzz`` damaged images, and ``--good`` MNIST test digits
as PNG. Then runs ``python -m mnist_lit predict --data.predict_dir`` on it in a subprocess and
prints the wall time, the peak memory of the command's processes together (their proportional
set size, sampled every 20 ms),
whether the CSV has a row for every file, and the reasons given. Reference, in the same run: the
same command on the good digits alone.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import ROOT, header
from PIL import Image, ImageDraw

from mnist_lit.data.datamodule import MNISTDataModule, TensorImages
from mnist_lit.data.preprocess import READ_FORMATS


def progressive_jpeg(side: int, repeats: int) -> bytes:
    """A progressive JPEG whose last scan is repeated: each repeat a pass over the whole image."""
    image = Image.new("L", (side, side), 128)
    image.paste(255, (side // 4, side // 4, side // 2, side // 2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    last = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + last * repeats + b"\xff\xd9"


def stroke(mode: str, side: int) -> Image.Image:
    """A vertical stroke (a 1) on a ``side`` x ``side`` image of ``mode``."""
    ink = Image.new("L", (side, side), 0)
    ImageDraw.Draw(ink).line([(side // 2, side // 5), (side // 2, 4 * side // 5)], 255, side // 12)
    if mode == "RGBA":
        image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        image.putalpha(ink)
        return image
    values = np.asarray(ink, dtype=np.float32) / 255
    if mode == "I;16":
        return Image.fromarray((values * 65535).astype(np.uint16))
    return Image.fromarray(values * 1e6)


def fuzzed(good: list[bytes], count: int, rng: np.random.Generator) -> list[bytes]:
    """Damaged copies of ``good`` files: bytes flipped, cut short or repeated."""
    damaged = []
    for i in range(count):
        data = bytearray(good[i % len(good)])
        how = i % 3
        if how == 0:
            for at in rng.integers(8, len(data), 1 + len(data) // 200):
                data[at] = int(rng.integers(0, 256))
        elif how == 1:
            data = data[: int(rng.integers(8, len(data)))]
        else:
            at = int(rng.integers(8, len(data)))
            data = data[:at] + data[at - 8 : at] * int(rng.integers(2, 500)) + data[at:]
        damaged.append(bytes(data))
    return damaged


def build(root: Path, digits: np.ndarray, fuzz: int) -> int:
    """Write the hostile folder; return how many files ``predict`` should list."""
    files = 0

    def write(name: str, data: bytes | Image.Image, **kwargs: object) -> None:
        nonlocal files
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Image.Image):
            data.save(path, **kwargs)
        else:
            path.write_bytes(data)
        files += 1

    print("building the folder ...", flush=True)
    deep = root
    for _ in range(1200):  # one level at a time: mkdir(parents=True) recurses
        deep = deep / "d"
        deep.mkdir()
    Image.fromarray(digits[0]).save(deep / "deep.png")
    files += 1  # one row: the folder nested too deep
    write("bomb/progressive-3000-scans.jpg", progressive_jpeg(8000, 3000))
    write("bomb/progressive-90-scans.jpg", progressive_jpeg(4000, 90))
    write("big/rgba-64mpx.png", stroke("RGBA", 8000))
    write("big/16bit-64mpx.png", stroke("I;16", 8000))
    write("big/float-64mpx.tif", stroke("F", 8000), compression="tiff_deflate")
    extreme = np.full((64, 64), -3.4e38, dtype=np.float32)
    extreme[16:48, 28:36] = 3.4e38
    write("odd/float-extremes.tif", Image.fromarray(extreme))
    for fmt in ("ICO", "ICNS", "EPS"):
        buffer = io.BytesIO()
        Image.fromarray(digits[1]).convert("RGB").resize((64, 64)).save(buffer, fmt)
        write(f"disguised/{fmt.lower()}.png", buffer.getvalue())
    write('names/=HYPERLINK("http---x","y").png', Image.fromarray(digits[2]))
    write("names/" + "n" * 246 + ".png", Image.fromarray(digits[3]))
    (root / "links").mkdir()
    os.symlink(root / "links", root / "links" / "loop")  # a folder link: not followed
    os.symlink("/etc/passwd", root / "links" / "passwd.png")
    files += 1
    good = []
    for fmt in READ_FORMATS:
        buffer = io.BytesIO()
        Image.fromarray(digits[4]).save(buffer, fmt if fmt != "PPM" else "PPM")
        good.append(buffer.getvalue())
    suffixes = ["png", "jpg", "bmp", "gif", "tif", "webp", "ppm"]  # as READ_FORMATS
    for i, data in enumerate(fuzzed(good, fuzz, np.random.default_rng(0))):
        write(f"fuzz/{i:04d}.{suffixes[i % len(suffixes)]}", data)
    return files


def remove_deep(top: Path) -> None:
    """Remove the chain of folders ``top/d/d/...`` and the file at its bottom, from the bottom."""
    chain = [top]
    while (chain[-1] / "d").is_dir():
        chain.append(chain[-1] / "d")
    for folder in reversed(chain):
        for entry in folder.iterdir():
            if entry.is_file():
                entry.unlink()
        folder.rmdir()


def write_good(root: Path, digits: np.ndarray) -> None:
    root.mkdir(exist_ok=True)
    for i, digit in enumerate(digits):
        Image.fromarray(digit).save(root / f"{i:05d}.png")


def predict(ckpt: str, folder: Path, out: Path) -> tuple[float, int]:
    """Run predict on ``folder``; return its wall time and the peak memory of its processes."""
    command = [
        sys.executable, "-m", "mnist_lit", "predict", "--ckpt_path", ckpt,
        "--data.predict_dir", str(folder), "--predictions", str(out),
        "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_memory(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"predict failed ({process.returncode}):\n{output.decode()[-3000:]}")
    return wall, peak


def tree_memory(pid: int) -> int:
    """Memory of ``pid`` and its descendants (proportional set size), in bytes (Linux)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[parent].append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:  # proportional: pages the forked workers share with the main process count once
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt_path", default="best")
    parser.add_argument("--mirror", default="../shared/data/mnist")
    parser.add_argument("--fuzz", type=int, default=300, help="damaged images in the folder")
    parser.add_argument("--good", type=int, default=200, help="MNIST test digits in the folder")
    args = parser.parse_args()
    print(header("predict over a folder of hostile files (issue 26)"), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        dm = MNISTDataModule(data_dir=str(tmp_path / "data"), mirror=args.mirror)
        dm.prepare_data()
        dm.setup("test")
        assert isinstance(dm.test_set, TensorImages)
        digits = dm.test_set.images[: args.good].numpy()
        hostile, plain = tmp_path / "hostile", tmp_path / "plain"
        hostile.mkdir()
        plain.mkdir()
        try:
            expected = build(hostile, digits, args.fuzz)
            write_good(hostile / "good", digits)
            write_good(plain, digits)
            expected += len(digits)
            wall, peak = predict(args.ckpt_path, plain, tmp_path / "plain.csv")
            print(f"reference: {len(digits)} good digits only: {wall:.1f} s, {peak / 2**30:.2f} GB")
            wall, peak = predict(args.ckpt_path, hostile, tmp_path / "hostile.csv")
            with (tmp_path / "hostile.csv").open(encoding="utf-8", newline="") as file:
                rows = list(csv.DictReader(file))
            print(
                f"hostile folder: {expected} files, {len(rows)} rows: {wall:.1f} s, "
                f"peak {peak / 2**30:.2f} GB (all processes)"
            )
            good = [r for r in rows if r["path"].startswith("good/")]
            print(f"good digits predicted: {sum(not r['error'] for r in good)} of {len(good)}")
            named = [r for r in rows if not r["path"].startswith(("good/", "fuzz/"))]
            for row in sorted(named, key=lambda r: r["path"]):
                print(
                    f"  {row['path'][:60]:60s} {row['error'][:90] or 'read: ' + row['prediction']}"
                )
            reasons = collections.Counter(
                (r["error"].split(":")[0] if r["error"] else "read")
                for r in rows
                if "fuzz/" in r["path"]
            )
            print(f"fuzzed ({args.fuzz}):", dict(reasons.most_common()))
        finally:
            remove_deep(hostile / "d")  # shutil.rmtree recurses: 1,200 levels are too many


if __name__ == "__main__":
    main()
