"""Calibrated confidence and "unsure": fitted at fit's validations, kept in checkpoints, used by
``test``, ``predict`` and the demo; old checkpoints keep working, unscaled, saying so once."""

import csv
from pathlib import Path

import pytest
import torch

from mnist_lit.data.collection import Collection
from mnist_lit.demo.app import UNSURE_LABEL, DemoActions
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.models.calibration import (
    UNCALIBRATED,
    Calibration,
    fit_calibration,
    fit_temperature,
    read_calibration,
)
from mnist_lit.models.convnet import ConvNet
from tests.helpers import DIGITS, TinyMNIST, TrainedModel, render, run

OLD = Path(__file__).parents[1] / "fixtures" / "v0.1.0-fast.ckpt"


def sampled(temperature: float, n: int = 20_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels drawn so that ``softmax(logits / temperature)`` is calibrated."""
    generator = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(n, 10, generator=generator)
    probabilities = (logits / temperature).softmax(dim=1)
    labels = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_the_fitted_temperature_is_the_one_that_made_the_labels(true_temperature: float) -> None:
    assert fit_temperature(*sampled(true_temperature)) == pytest.approx(true_temperature, rel=0.05)


def test_the_threshold_flags_under_one_percent_and_too_few_images_fit_nothing() -> None:
    logits, labels = sampled(2.0)
    calibration = fit_calibration(logits, labels)
    probabilities = calibration.probabilities(logits)
    flagged = calibration.unsure(probabilities).float().mean()
    assert 0.006 < flagged <= 0.008
    assert calibration.images == 20_000
    # the flagged are the least confident: every flagged reading is below every other one
    confidence = probabilities.max(dim=1).values
    unsure = calibration.unsure(probabilities)
    assert confidence[unsure].max() < confidence[~unsure].min()
    assert fit_calibration(logits[:99], labels[:99]) == UNCALIBRATED
    assert fit_calibration(logits * float("nan"), labels) == UNCALIBRATED


def test_fit_stores_it_and_test_reports_the_unsure_share_and_the_calibration_error(
    tiny_model: TrainedModel,
    tiny_mnist: TinyMNIST,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkpoint = torch.load(tiny_model.best, weights_only=True)
    calibration = read_calibration(checkpoint)
    assert calibration is not None and calibration.images == 100  # the validation split
    assert calibration.temperature > 0 and 0 < calibration.threshold < 1
    cli = run("test", tiny_mnist, tmp_path, "--ckpt_path", str(tiny_model.best))
    metrics = cli.trainer.callback_metrics
    # the unsure share is that of predict's rows below the threshold, on the same images
    unsure = [row["unsure"] == "true" for row in tiny_model.predictions]
    assert float(metrics["test/unsure"]) == pytest.approx(sum(unsure) / len(unsure))
    right = [
        row["prediction"] == row["label"]
        for row, flagged in zip(tiny_model.predictions, unsure, strict=True)
        if not flagged
    ]
    assert float(metrics["test/acc_sure"]) == pytest.approx(sum(right) / len(right))
    assert 0 <= float(metrics["test/ece"]) <= 1 and "test/ece_unscaled" in metrics
    printed = capsys.readouterr().out
    assert f"Unsure: {float(metrics['test/unsure']):.2%} of the test images flagged" in printed


def test_predict_rows_are_calibrated_and_say_unsure_below_the_threshold(
    tiny_model: TrainedModel,
) -> None:
    calibration = read_calibration(torch.load(tiny_model.best, weights_only=True))
    assert calibration is not None
    rows = tiny_model.predictions
    assert list(rows[0])[-2:] == ["error", "unsure"]  # the new column comes last
    for row in rows:
        assert row["unsure"] == (
            "true" if float(row["confidence"]) < calibration.threshold else "false"
        )


def test_with_test_time_augmentation_the_same_readings_are_unsure(
    tiny_model: TrainedModel, tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    """Averaging shifted copies lowers confidence; the threshold still applies to the plain one."""
    predictions = tmp_path / "tta.csv"
    args = ["--ckpt_path", str(tiny_model.best), "--model.tta", "2"]
    run("predict", tiny_mnist, tmp_path, *args, "--predictions", str(predictions))
    rows = list(csv.DictReader(predictions.open(newline="")))
    plain = tiny_model.predictions
    assert [row["unsure"] for row in rows] == [row["unsure"] for row in plain]
    assert [row["p0"] for row in rows] != [row["p0"] for row in plain]  # the shifts did count
    calibration = read_calibration(torch.load(tiny_model.best, weights_only=True))
    assert calibration is not None
    averaged = [float(row["confidence"]) < calibration.threshold for row in rows]
    assert averaged != [row["unsure"] == "true" for row in rows]  # thresholding those would differ
    cli = run("test", tiny_mnist, tmp_path, *args)
    flagged = sum(row["unsure"] == "true" for row in plain) / len(plain)
    assert float(cli.trainer.callback_metrics["test/unsure"]) == pytest.approx(flagged)


def test_an_old_checkpoint_is_used_unscaled_and_says_so_once(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = tmp_path / "old.csv"
    run("predict", tiny_mnist, tmp_path, "--ckpt_path", str(OLD), "--predictions", str(predictions))
    out = capsys.readouterr().out
    assert out.count("has no calibration") == 1
    rows = list(csv.DictReader(predictions.open(newline="")))
    assert {row["unsure"] for row in rows} == {"false"}
    cli = run("test", tiny_mnist, tmp_path, "--ckpt_path", str(OLD))
    assert "test/unsure" not in cli.trainer.callback_metrics  # nothing to report
    assert capsys.readouterr().out.count("has no calibration") == 1


def test_the_demo_says_plainly_when_it_cannot_read_a_digit(tmp_path: Path) -> None:
    torch.manual_seed(0)
    sure = Recogniser(ConvNet(), calibration=Calibration(threshold=0.0))
    doubtful = Recogniser(ConvNet(), calibration=Calibration(threshold=1.01))  # all unsure
    drawing = {"composite": render(DIGITS[7]).convert("RGBA")}
    label, bars, _, message, _ = DemoActions(sure, Collection(tmp_path / "a")).read_drawing(drawing)
    assert message.startswith("Read as **") and isinstance(label, dict)
    label, bars, _, message, _ = DemoActions(doubtful, Collection(tmp_path / "b")).read_drawing(
        drawing
    )
    assert message.startswith("Not sure: this does not look like a digit I know (best guess ")
    assert label == UNSURE_LABEL  # no big digit, only the bars of every probability
    assert bars is not None and len(bars) == 10


def test_the_demo_uses_the_checkpoints_temperature(tiny_model: TrainedModel) -> None:
    recogniser = Recogniser.from_checkpoint(tiny_model.best)
    assert recogniser.calibration == read_calibration(
        torch.load(tiny_model.best, weights_only=True)
    )
    reading = recogniser(render(DIGITS[3]))
    assert reading.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert reading.unsure == (reading.confidence < recogniser.calibration.threshold)
