"""``python -m mnist_lit.robustness``: one table, CSV and figure for several checkpoints."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_lit.robustness.command import main as robustness
from tests.helpers import ROOT, TinyMNIST, TrainedModel


def _args(tiny: TinyMNIST, root: Path, *extra: str) -> list[str]:
    return [
        "--data.mirror", str(tiny.mirror),
        "--data.data_dir", str(root / "data"),
        "--out", str(root / "out"),
        *extra,
    ]  # fmt: skip


def test_two_checkpoints_side_by_side(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    last = tiny_model.run_dir / "checkpoints" / "last.ckpt"
    page = robustness(
        _args(
            tiny_mnist, tmp_path,
            "--ckpt_path", f"[{tiny_model.best}, {last}]",
            "--names", "[best, last]",
            "--corruptions", "[rotate:5, stripe, thick]",
            "--own_images", "20",
        )
    )  # fmt: skip
    out = page.parent
    assert {p.name for p in out.iterdir()} == {"robustness.md", "robustness.csv", "robustness.png"}
    rows = list(csv.DictReader((out / "robustness.csv").open(newline="")))
    assert [r["set"] for r in rows] == [
        "clean", "rotate:5", "stripe", "mean: MNIST-C corruptions", "thick:2",
        "paper-jpeg", "paper-png", "canvas", "printed", "mean: own-image sets",
    ]  # fmt: skip
    # the clean accuracy is predict's on the same test images
    right = sum(r["prediction"] == r["label"] for r in tiny_model.predictions)
    assert float(rows[0]["best"]) == pytest.approx(right / len(tiny_model.predictions))
    # a family's mean is the mean of its sets
    corrupted = [float(r["best"]) for r in rows[1:3]]
    assert float(rows[3]["best"]) == pytest.approx(sum(corrupted) / 2, abs=1e-6)
    assert rows[5]["images"] == "20" and int(rows[8]["images"]) > 100  # printed: every font
    assert float(rows[1]["best"]) < float(rows[0]["best"])  # turned by 57 degrees: worse
    table = page.read_text()
    assert "| **mean: MNIST-C corruptions** | mnist-c |  |" in table and "![" in table


def test_the_same_seed_gives_the_same_table(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    tables = []
    for run in ("a", "b"):
        args = ["--ckpt_path", str(tiny_model.best), "--corruptions", "[shot_noise, fog]",
                "--own_images", "0", "--out", str(tmp_path / run)]  # fmt: skip
        robustness([*_args(tiny_mnist, tmp_path), *args])
        tables.append((tmp_path / run / "robustness.csv").read_text())
    assert tables[0] == tables[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--corruptions", "[rotation]"], "no corruption named 'rotation'; choose from shot_noise"),
        (["--corruptions", "[fog:7]"], "fog has severities 1 to 5; got '7'"),
        (["--names", "[a, b]"], "--names has 2 names for 1 checkpoints"),
        (["--own_images", "-1"], "own_images must be 0 or more"),
    ],
)
def test_mistakes_are_one_line(
    tiny_mnist: TinyMNIST,
    tiny_model: TrainedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    with pytest.raises(SystemExit) as stop:
        robustness([*_args(tiny_mnist, tmp_path), "--ckpt_path", str(tiny_model.best), *extra])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mnist_lit.robustness: error: ") and message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()  # stopped before writing anything


def test_help_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mnist_lit.robustness", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "usage: python -m mnist_lit.robustness" in result.stdout
    assert "canny_edges" in result.stdout and "--own_images" in result.stdout
