"""``predict --data.read number``: the number column, leading zeros, and bad input in the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_lit.callbacks.predictions import COLUMNS, NUMBER_COLUMNS
from tests.helpers import TinyMNIST, expect_error, run
from tests.helpers.cli import cli_args
from tests.numbers.helpers import FIXTURE, written


def predict(tiny: TinyMNIST, root: Path, folder: Path, *extra: str) -> list[dict[str, str]]:
    out = root / "predictions.csv"
    run(
        "predict", tiny, root, "--ckpt_path", str(FIXTURE),
        "--data.predict_dir", str(folder),
        "--data.mirror", str(root / "no-mnist-here"),  # MNIST is not needed to predict
        "--data.download", "false",
        "--predictions", str(out), *extra,
    )  # fmt: skip
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
        assert list(rows[0]) == (NUMBER_COLUMNS if "number" in extra else COLUMNS)
    return rows


def test_numbers_and_bad_files_each_get_a_row(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "numbers"
    folder.mkdir()
    written("0417", 12).save(folder / "a_0417.png")
    written("2", 0, light_on_dark=True).save(folder / "b_2.jpg")
    Image.new("RGB", (600, 200), (230, 220, 200)).save(folder / "c_blank.png")
    (folder / "d_broken.png").write_bytes(b"not an image")
    written("1", 0).resize((4000, 4000)).save(folder / "e_huge.png")  # over --data.max_pixels
    strip = np.zeros((12, 3 * 400), dtype=np.uint8)  # 400 short bars: a very long strip
    strip[2:10, 1::3] = 255
    Image.fromarray(strip).save(folder / "f_strip.png")
    rows = {row["path"]: row for row in predict(
        tiny_mnist, tmp_path, folder, "--data.read", "number", "--data.max_pixels", "10000000"
    )}  # fmt: skip
    assert sorted(rows) == sorted(p.name for p in folder.iterdir())
    assert rows["a_0417.png"]["number"] == "0417"  # leading zero kept
    assert rows["a_0417.png"]["digits"] == "4"
    assert len(rows["a_0417.png"]["confidences"].split()) == 4
    assert len(rows["a_0417.png"]["boxes"].split()) == 4
    assert rows["a_0417.png"]["unsure"] in ("true", "false") and not rows["a_0417.png"]["error"]
    assert rows["b_2.jpg"]["number"] == "2"
    assert "no digit found" in rows["c_blank.png"]["error"]
    assert "not an image" in rows["d_broken.png"]["error"]
    assert "over the limit" in rows["e_huge.png"]["error"]
    assert rows["f_strip.png"]["number"] == "1" * 400 or rows["f_strip.png"]["error"]
    for name in ("c_blank.png", "d_broken.png", "e_huge.png"):
        assert rows[name]["number"] == "" and rows[name]["unsure"] == ""
    out = capsys.readouterr().out
    assert "Wrote 6 rows" in out and "could not be used: 3 files" in out


def test_digit_mode_is_unchanged_and_number_mode_needs_a_folder(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "digits"
    folder.mkdir()
    written("3", 0).save(folder / "3.png")
    (row,) = predict(tiny_mnist, tmp_path, folder)
    assert row["prediction"] == "3"
    args = cli_args(tiny_mnist, tmp_path, "--ckpt_path", str(FIXTURE), "--data.read", "number")
    assert "set --data.predict_dir" in expect_error(capsys, ["predict", *args])
