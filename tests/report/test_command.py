"""``python -m mnist_lit.report``: every promised file, the same accuracy as ``test``, clear errors."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_lit.report.command import main as report
from tests.helpers import ROOT, Mistakes, TinyMNIST, TrainedModel, run, shown_images

FIGURES = {
    "samples",
    "training_curves",
    "predictions",
    "misclassified",
    "digit_accuracy",
    "confusion_matrix",
    "confusion_matrix_normalized",
    "feature_maps",
    "filters",
    "layers",
    "reliability",
    "attributions",
    "attributions_mistakes",
}


def data_args(tiny: TinyMNIST, root: Path, attributions: bool = False) -> list[str]:
    """The tiny data's options; the attribution maps (a few seconds) only where asked for."""
    return [
        "--data.mirror", str(tiny.mirror), "--data.data_dir", str(root / "data"),
        "--attributions", str(attributions).lower(),
    ]  # fmt: skip


def test_report_writes_every_figure_and_matches_test(
    tiny_mnist: TinyMNIST,
    tiny_model: TrainedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir = tmp_path / "lightning_logs" / "version_0"
    shutil.copytree(tiny_model.run_dir, run_dir)  # a trained run of this test's own
    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "best")
    capsys.readouterr()

    logs = str(run_dir.parent)
    page = report(["--ckpt_path", "best", "--logs", logs, *data_args(tiny_mnist, tmp_path, True)])
    out = run_dir / "report"  # the default: beside the checkpoints
    assert page == out / "report.md"
    assert {p.stem for p in out.glob("*.png")} == FIGURES
    for png in out.glob("*.png"):
        with Image.open(png) as image:
            assert min(image.size) > 100, png.name
    text = page.read_text()
    for name in FIGURES:
        assert f"({name}.png)" in text, name  # shown, or linked (the layer table is text too)
    assert "| 0 | " in text and "128 x 3 x 3 = 1,152 values" in text

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 200
    assert metrics["accuracy"] == pytest.approx(float(test.trainer.callback_metrics["test/acc"]))
    assert metrics["loss"] == pytest.approx(
        float(test.trainer.callback_metrics["test/loss"]), rel=1e-4
    )
    assert re.search(rf"\*\*{100 * metrics['accuracy']:.2f}%\*\*", text)
    assert sum(map(sum, metrics["confusion_matrix"])) == 200
    # the calibration figures are test's, on the same images and checkpoint
    trust, logged = metrics["calibration"], test.trainer.callback_metrics
    assert trust["ece"] == pytest.approx(float(logged["test/ece"]), abs=1e-4)
    assert trust["ece_unscaled"] == pytest.approx(float(logged["test/ece_unscaled"]), abs=1e-4)
    assert trust["unsure"] / 200 == pytest.approx(float(logged["test/unsure"]))
    assert f"| readings marked unsure | {trust['unsure']:,d} of 200 " in text
    assert "Wrote " in capsys.readouterr().err


def test_report_with_the_robustness_suite(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    args = ["--ckpt_path", str(tiny_model.best), "--out", str(tmp_path / "r"), "--robustness", "0"]
    page = report([*args, *data_args(tiny_mnist, tmp_path)])
    text = page.read_text()
    assert "## Robustness" in text and "![accuracy per set](robustness.png)" in text
    assert "| **mean: MNIST-C corruptions** | mnist-c |  |" in text
    assert (page.parent / "robustness.csv").is_file() and (page.parent / "robustness.png").is_file()
    assert text.index("## Robustness") < text.index("## The data")


def test_report_on_a_labelled_folder_into_a_chosen_folder(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    ckpt = tiny_model.best
    folder = tmp_path / "mine"
    for i, (pixels, label) in enumerate(
        zip(tiny_mnist.test_images[:30], tiny_mnist.test_labels[:30], strict=True)
    ):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / str(label) / f"{i}.png")
    (folder / "3" / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "my report"
    report([
        "--ckpt_path", str(ckpt), "--out", str(out), "--data.custom_dir", str(folder),
        "--data.num_workers", "0", *data_args(tiny_mnist, tmp_path),
    ])  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 30 and metrics["test_set"] == str(folder)
    assert [f["file"] for f in metrics["unusable_files"]] == ["3/broken.png"]
    assert "1 file could not be used** and is not counted" in (out / "report.md").read_text()
    assert (out / "misclassified.png").is_file()


def report_digit_table(page: str) -> dict[str, tuple[float, int]]:
    """report.md's table of accuracy per digit: ``{digit: (accuracy in %, images)}``."""
    rows = re.findall(r"^\| (\d) \| ([\d.]+)% \| ([\d,]+) \|", page, flags=re.MULTILINE)
    return {digit: (float(acc), int(images.replace(",", ""))) for digit, acc, images in rows}


def test_the_report_counts_exactly_the_mistakes(
    mistakes: Mistakes, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    """Accuracy per true digit adds up to the overall one; the mistakes, and only they, are shown."""
    out = tmp_path / "report"
    report([
        "--ckpt_path", str(tiny_model.best), "--out", str(out),
        *data_args(mistakes.tiny, tmp_path),
    ])  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 200 and metrics["errors"] == len(mistakes.wrong) == 7
    assert metrics["accuracy"] == pytest.approx(mistakes.right / 200)
    labels = mistakes.tiny.test_labels
    images = {str(d): int((labels == d).sum()) for d in range(10)}
    right = {str(d): int(((labels == d) & (mistakes.predicted == d)).sum()) for d in range(10)}
    assert [sum(row) for row in metrics["confusion_matrix"]] == list(images.values())
    for d, accuracy in metrics["accuracy_per_digit"].items():
        assert accuracy == pytest.approx(right[d] / images[d]), d
    table = report_digit_table((out / "report.md").read_text())
    assert table == {
        d: (pytest.approx(100 * right[d] / images[d], abs=0.005), images[d]) for d in images
    }
    assert sum(acc / 100 * n for acc, n in table.values()) == pytest.approx(
        mistakes.right, abs=0.01
    )
    assert "| errors | 7 of 200 |" in (out / "report.md").read_text()

    # the figures show the test images themselves: which ones, and in what colour, can be seen
    with Image.open(out / "misclassified.png") as png:
        shown = shown_images(np.asarray(png.convert("RGB")), mistakes.tiny.test_images)
    assert shown == [(i, "red") for i in mistakes.wrong]  # all 7, the most confident first
    with Image.open(out / "predictions.png") as png:
        shown = shown_images(np.asarray(png.convert("RGB")), mistakes.tiny.test_images)
    assert shown == [(i, "red" if i in mistakes.wrong else "green") for i in range(32)]
    assert "red" in {colour for _, colour in shown}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ckpt_path", "nowhere.ckpt"], "checkpoint nowhere.ckpt does not exist"),
        (["--ckpt_path", "best", "--logs", "empty"], "no checkpoints under empty"),
        (["--ckpt_path", "best", "--data.batch_size", "0"], "batch_size must be positive"),
        (["--data.download", "false"], "arguments are required: ckpt_path"),
    ],
)
def test_mistakes_give_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        report(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("mnist_lit.report: error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_folder_of_unusable_files_is_named(
    tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad" / "7").mkdir(parents=True)
    (tmp_path / "bad" / "7" / "a.png").write_bytes(b"not an image")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        report([
            "--ckpt_path", str(tiny_model.best),
            "--data.custom_dir", str(tmp_path / "bad"), "--data.num_workers", "0",
        ])  # fmt: skip
    err = capsys.readouterr().err
    assert "no images that could be used: 7/a.png: " in err


def test_help_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mnist_lit.report", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert "--ckpt_path" in done.stdout and "--data.custom_dir" in done.stdout


def test_report_takes_the_fit_config_of_the_run(
    tiny_mnist: TinyMNIST,
    tiny_model: TrainedModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--config as for fit: its data options and default_root_dir; model and trainer left out."""
    shutil.copytree(tiny_model.run_dir, tmp_path / "runs" / "lightning_logs" / "version_0")
    config = tmp_path / "mine.yaml"
    config.write_text(
        f"trainer:\n  default_root_dir: {tmp_path / 'runs'}\n  max_epochs: 9\n"
        f"data:\n  mirror: {tiny_mnist.mirror}\n  data_dir: {tmp_path / 'data'}\n"
        "  batch_size: 7\n  train_size: 100\nmodel:\n  lr: 0.5\n"
    )
    monkeypatch.chdir(tmp_path)  # no lightning_logs here: --logs comes from the config
    capsys.readouterr()
    page = report(
        [
            "--config",
            str(config),
            "--config",
            "fast",
            "--ckpt_path",
            "best",
            "--attributions",
            "false",
        ]
    )
    assert page == tmp_path / "runs" / "lightning_logs" / "version_0" / "report" / "report.md"
    assert json.loads((page.parent / "metrics.json").read_text())["images"] == 200
    assert "Evaluating MNIST test set" in capsys.readouterr().err  # the evaluation's progress


def test_a_runs_config_points_logs_at_its_loggers_folder(tmp_path: Path) -> None:
    """The config.yaml of a run logged by a CSVLogger elsewhere finds that run's checkpoints."""
    from jsonargparse import ArgumentParser

    from mnist_lit.commands import apply_fit_configs

    config = tmp_path / "config.yaml"
    config.write_text(
        "trainer:\n  logger:\n    class_path: lightning.pytorch.loggers.CSVLogger\n"
        "    init_args:\n      save_dir: runs\n      name: mine\n  default_root_dir: null\n"
    )
    parser = ArgumentParser()
    parser.add_argument("--logs", default="lightning_logs")
    assert apply_fit_configs(parser, ["--config", str(config), "--out", "x"]) == ["--out", "x"]
    assert parser.get_default("logs") == str(Path("runs") / "mine")
