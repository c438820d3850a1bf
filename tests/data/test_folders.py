"""`predict` on a folder of the user's own images and `test` on a labelled folder, via the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_lit.constants import CLASS_NAMES
from mnist_lit.data.folders import MAX_DEPTH, list_images
from tests.helpers import (
    BAD,
    GOOD,
    TinyMNIST,
    TrainedModel,
    cli_args,
    dark_on_white,
    expect_error,
    make_mixed_folder,
    progressive_jpeg,
    run,
)


@pytest.fixture
def checkpoint_args(tiny_model: TrainedModel) -> list[str]:
    return ["--ckpt_path", str(tiny_model.best)]


def test_listing_skips_what_is_not_an_image(tmp_path: Path) -> None:
    make_mixed_folder(tmp_path)
    listing = list_images(tmp_path)
    assert listing.files == sorted([*GOOD, *BAD])
    assert listing.skipped == 2  # readme.txt and .DS_Store; hidden folders are not entered


def test_predict_on_a_folder_reports_every_file(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    checkpoint_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "my digits"
    folder.mkdir()
    make_mixed_folder(folder)
    out_csv = tmp_path / "out" / "preds.csv"
    seen = tmp_path / "seen"
    capsys.readouterr()
    run(
        "predict", tiny_mnist, tmp_path, *checkpoint_args,
        "--data.predict_dir", str(folder),
        "--data.mirror", str(tmp_path / "no-mnist-here"),  # MNIST is not needed to predict
        "--data.download", "false",
        "--data.save_preprocessed", str(seen),
        "--predictions", str(out_csv),
    )  # fmt: skip
    rows = {row["path"]: row for row in csv.DictReader(out_csv.open(encoding="utf-8"))}
    assert sorted(rows) == sorted([*GOOD, *BAD])
    for name in GOOD:
        assert rows[name]["error"] == "" and rows[name]["prediction"] in CLASS_NAMES
        assert sum(float(rows[name][f"p{d}"]) for d in range(10)) == pytest.approx(1, abs=1e-4)
    for name, reason in BAD.items():
        assert reason in rows[name]["error"] and rows[name]["prediction"] == ""
    captured = capsys.readouterr()
    assert f"Found 9 images in {folder} (2 files of other kinds skipped)" in captured.err
    assert f"Wrote 9 rows to {out_csv}" in captured.out
    assert "predicted: 4 images" in captured.out
    assert "could not be used: 5 files" in captured.out
    # the images the model saw, as 28x28 PNGs under the same names
    saved = sorted(p.relative_to(seen).as_posix() for p in seen.rglob("*.png"))
    assert saved == sorted(
        ["ok/первый 1.png", "ok/two.jpg.png", "nested/deep/Three.BMP.png", "canvas.png"]
    )
    assert Image.open(seen / "canvas.png").size == (28, 28)


def make_labelled_folder(root: Path) -> None:
    """Three images of digit 4, one of digit 7 (the "4" stroke turned), a bad file in 4/."""
    (root / "4").mkdir(parents=True)
    (root / "7" / "batch one").mkdir(parents=True)
    for i in range(3):
        dark_on_white().save(root / "4" / f"four {i}.png")
    dark_on_white().rotate(90).save(root / "7" / "batch one" / "seven.png")
    (root / "4" / "broken.png").write_bytes(b"")
    (root / "notes.txt").write_text("drawn on 2026-11-23")


def test_test_on_a_labelled_folder(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    checkpoint_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "custom"
    make_labelled_folder(folder)
    capsys.readouterr()
    test = run("test", tiny_mnist, tmp_path, *checkpoint_args, "--data.custom_dir", str(folder))
    assert "test/acc" in test.trainer.callback_metrics
    captured = capsys.readouterr()
    table = captured.out[captured.out.index("digit  accuracy   images") :]
    counts = {line.split()[0]: line.split()[-1] for line in table.splitlines()[2:13]}
    assert counts["4"] == "3" and counts["7"] == "1" and counts["0"] == "0"
    assert counts["all"] == "4"
    assert "Confusion matrix" in captured.out
    assert "1 file of" in captured.err and "4/broken.png: empty file" in captured.err


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"cats/a.png": True}, "subfolder 'cats' is not a digit"),
        ({"a.png": True, "3/b.png": True}, "image 'a.png' is not in a digit subfolder"),
        ({"3/notes.txt": False}, "holds no images in subfolders 0/ to 9/"),
    ],
)
def test_badly_laid_out_labelled_folders_are_refused(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    layout: dict[str, bool],
    message: str,
) -> None:
    folder = tmp_path / "custom"
    for name, image in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if image:
            Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / name)
        else:
            (folder / name).write_text("x")
    err = expect_error(
        capsys, ["test", *cli_args(tiny_mnist, tmp_path, "--data.custom_dir", str(folder))]
    )
    assert message in err


def test_missing_predict_dir_is_a_one_line_error(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli_args(tiny_mnist, tmp_path, "--data.predict_dir", str(tmp_path / "nowhere"))
    err = expect_error(capsys, ["predict", *args])
    assert f"predict_dir {tmp_path / 'nowhere'} does not exist" in err


def test_predictions_over_an_image_read_are_refused(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    checkpoint_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "digits"
    (folder / "sub").mkdir(parents=True)
    dark_on_white().save(folder / "sub" / "a.png")
    before = (folder / "sub" / "a.png").read_bytes()
    args = ["--data.predict_dir", str(folder), "--predictions", str(folder / "sub" / "a.png")]
    err = expect_error(
        capsys, ["predict", *cli_args(tiny_mnist, tmp_path, *checkpoint_args, *args)]
    )
    assert "is one of the images read" in err
    assert (folder / "sub" / "a.png").read_bytes() == before


def test_predictions_path_that_is_a_folder_is_refused(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    checkpoint_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "digits"
    folder.mkdir()
    dark_on_white().save(folder / "a.png")
    args = ["--data.predict_dir", str(folder), "--predictions", str(tmp_path)]
    err = expect_error(
        capsys, ["predict", *cli_args(tiny_mnist, tmp_path, *checkpoint_args, *args)]
    )
    assert f"--predictions {tmp_path} is a folder; give a file name" in err


def test_a_folder_too_deep_is_one_row_and_the_run_goes_on(
    tiny_mnist: TinyMNIST, tmp_path: Path, checkpoint_args: list[str]
) -> None:
    folder = tmp_path / "digits"
    levels = [folder / "d"]
    for _ in range(1199):  # os.walk recursed: RecursionError, and no CSV at all
        levels.append(levels[-1] / "d")
    for level in levels:  # one at a time: mkdir(parents=True) and rmtree recurse too
        level.mkdir(parents=True)
    dark_on_white().save(levels[-1] / "seven.png")
    dark_on_white().save(folder / "one.png")
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # not followed
    out_csv = tmp_path / "preds.csv"
    try:
        run(
            "predict", tiny_mnist, tmp_path, *checkpoint_args,
            "--data.predict_dir", str(folder), "--predictions", str(out_csv),
        )  # fmt: skip
    finally:  # pytest's clean-up of old temporary folders could not remove the tree
        (levels[-1] / "seven.png").unlink()
        for level in reversed(levels):
            level.rmdir()
    rows = {row["path"]: row for row in csv.DictReader(out_csv.open(encoding="utf-8"))}
    refused = "d/" * (MAX_DEPTH + 1)
    assert sorted(rows) == sorted(["one.png", refused])
    assert rows["one.png"]["prediction"] in CLASS_NAMES
    assert f"nested more than {MAX_DEPTH} levels deep" in rows[refused]["error"]
    assert rows[refused]["prediction"] == ""


def test_saved_copies_never_overwrite_the_originals_and_long_names_fit(
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    checkpoint_args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "digits"
    folder.mkdir()
    long_name = "7" * 250 + ".jpg"  # its copy, name + ".png", is longer than 255 bytes
    dark_on_white().save(folder / long_name)
    dark_on_white().save(folder / "one.png")
    before = (folder / "one.png").read_bytes()
    for overlapping in (folder, folder / "seen", tmp_path):  # the folder, inside it, above it
        args = cli_args(
            tiny_mnist, tmp_path, *checkpoint_args,
            "--data.predict_dir", str(folder), "--data.save_preprocessed", str(overlapping),
        )  # fmt: skip
        err = expect_error(capsys, ["predict", *args])
        assert "overlaps the folder read" in err
    assert (folder / "one.png").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == sorted([long_name, "one.png"])

    seen, out_csv = tmp_path / "seen", tmp_path / "preds.csv"
    run(
        "predict", tiny_mnist, tmp_path, *checkpoint_args, "--data.predict_dir", str(folder),
        "--data.save_preprocessed", str(seen), "--predictions", str(out_csv),
    )  # fmt: skip
    rows = {row["path"]: row for row in csv.DictReader(out_csv.open(encoding="utf-8"))}
    assert rows[long_name]["error"] == "" and rows[long_name]["prediction"] in CLASS_NAMES
    copies = sorted(p.name for p in seen.iterdir())
    assert len(copies) == 2 and "one.png" in copies
    assert all(len(name.encode()) <= 255 and name.endswith(".png") for name in copies)


def test_a_file_over_its_time_is_a_row_and_the_run_goes_on(
    tiny_mnist: TinyMNIST, tmp_path: Path, checkpoint_args: list[str]
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    dark_on_white().save(folder / "good.png")
    (folder / "slow.jpg").write_bytes(progressive_jpeg(4000, 90))  # about 1.5 s to decode
    (folder / "bomb.jpg").write_bytes(progressive_jpeg(2000, 600))  # 600 scans
    out_csv = tmp_path / "preds.csv"
    run(
        "predict", tiny_mnist, tmp_path, *checkpoint_args,
        "--data.predict_dir", str(folder), "--data.max_seconds", "0.2",
        "--predictions", str(out_csv),
    )  # fmt: skip
    rows = {row["path"]: row for row in csv.DictReader(out_csv.open(encoding="utf-8"))}
    assert rows["good.png"]["prediction"] in CLASS_NAMES
    assert rows["slow.jpg"]["error"] == "decoding took over 0.2 s (a decode bomb?)"
    assert rows["bomb.jpg"]["error"].startswith("a JPEG with more than 100 scans")
