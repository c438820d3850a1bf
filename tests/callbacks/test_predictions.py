"""``predictions.csv``: in every row, the answer is the most probable digit, given with its probability."""

import csv
from pathlib import Path

import pytest

from tests.helpers import (
    GOOD,
    TinyMNIST,
    TrainedModel,
    dark_on_white,
    make_mixed_folder,
    run,
)


def assert_rows_agree(rows: list[dict[str, str]]) -> None:
    """Each row's ``p0``..``p9`` are probabilities, the largest that of ``prediction``: ``confidence``."""
    for row in rows:
        if row["error"]:  # a file that could not be used: no answer
            assert row["prediction"] == row["confidence"] == row["p0"] == "", row
            continue
        probabilities = [float(row[f"p{d}"]) for d in range(10)]
        assert all(0 <= p <= 1 for p in probabilities), row
        assert sum(probabilities) == pytest.approx(1, abs=1e-4), row
        answer = int(row["prediction"])
        assert row[f"p{answer}"] == row["confidence"], row
        assert probabilities[answer] == max(probabilities), row


def test_rows_of_the_test_set(tiny_model: TrainedModel) -> None:
    assert len(tiny_model.predictions) == 200
    assert_rows_agree(tiny_model.predictions)
    answers = {row["prediction"] for row in tiny_model.predictions}
    assert len(answers) == 10  # every digit answered: the rows are not all alike


@pytest.mark.parametrize("source", ["tta", "folder"])
def test_rows_with_tta_and_of_a_folder(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path, source: str
) -> None:
    out = tmp_path / "predictions.csv"
    extra = ["--model.tta", "2"]
    if source == "folder":  # good images, broken ones and non-images
        make_mixed_folder(tmp_path / "mine")
        extra = ["--data.predict_dir", str(tmp_path / "mine")]
    run("predict", tiny_mnist, tmp_path, "--ckpt_path", str(tiny_model.best),
        "--predictions", str(out), *extra)  # fmt: skip
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len([row for row in rows if not row["error"]]) == (200 if source == "tta" else len(GOOD))
    assert_rows_agree(rows)


def test_file_names_a_spreadsheet_would_run_are_text(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    names = ['=HYPERLINK("http:", "x").png', "+1.png", "-2.png", "@SUM(1).png", "plain.png"]
    for name in names:
        dark_on_white().save(folder / name)
    (folder / "=broken.png").write_bytes(b"")  # a failed file: path and error cells
    out = tmp_path / "predictions.csv"
    run(
        "predict", tiny_mnist, tmp_path, "--ckpt_path", str(tiny_model.best),
        "--data.predict_dir", str(folder), "--predictions", str(out),
    )  # fmt: skip
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    paths = {row["path"] for row in rows}
    assert paths == {"'" + name for name in names[:4]} | {"plain.png", "'=broken.png"}
    assert not any(row["error"].startswith(("=", "+", "-", "@")) for row in rows)
    assert_rows_agree(rows)
