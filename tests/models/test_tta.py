"""Test-time augmentation (``--model.tta``): a setting of use for any checkpoint, reported beside
the plain accuracy by ``test`` and as averaged probabilities by ``predict``."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_lit.data.datamodule import normalize
from mnist_lit.models.classifier import MNISTClassifier
from mnist_lit.models.tta import shift_image
from tests.helpers import TinyMNIST, TrainedModel, relabel_test_images, run


def test_tta_is_a_setting_of_use_for_any_checkpoint(
    tiny_mnist: TinyMNIST,
    tiny_model: TrainedModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    best = ("--ckpt_path", str(tiny_model.best))
    plain = run("test", tiny_mnist, tmp_path, *best).trainer.callback_metrics
    assert "test/acc_tta" not in plain and "Test-time" not in capsys.readouterr().out
    tta = run("test", tiny_mnist, tmp_path, *best, "--model.tta", "2")
    metrics = tta.trainer.callback_metrics
    assert metrics["test/acc"] == plain["test/acc"]  # the plain figure is unchanged
    assert 0.5 < metrics["test/acc_tta"] <= 1
    assert "Test-time augmentation (tta 2): accuracy" in capsys.readouterr().out
    assert "tta" not in torch.load(tiny_model.best, weights_only=True)["hyper_parameters"]

    csv_path = tmp_path / "p.csv"
    run("predict", tiny_mnist, tmp_path, *best, "--model.tta", "2", "--predictions", str(csv_path))
    row = next(csv.DictReader(csv_path.open()))
    model = MNISTClassifier.load_from_checkpoint(tiny_model.best).eval()
    image = normalize(torch.from_numpy(tiny_mnist.test_images[:1]).unsqueeze(1))
    copies = [image] + [
        shift_image(image, dy, dx, -1.0) for dy, dx in ((-2, 0), (2, 0), (0, -2), (0, 2))
    ]
    with torch.no_grad():
        # calibrated probabilities, as predict reports them: the logits over the temperature
        temperature = model.calibration.temperature
        expected = torch.stack([(model(c) / temperature).softmax(dim=1)[0] for c in copies])
        expected = expected.mean(dim=0)
    assert [float(row[f"p{d}"]) for d in range(10)] == pytest.approx(expected.tolist(), abs=1e-4)


def test_tta_accuracy_is_that_of_the_tta_answers_of_predict(
    tiny_mnist: TinyMNIST,
    tiny_model: TrainedModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``test/acc_tta`` is the accuracy of the answers ``predict --model.tta`` gives."""
    plain = np.array([int(row["prediction"]) for row in tiny_model.predictions])
    tiny = relabel_test_images(tiny_mnist, plain, monkeypatch)  # every plain answer is right
    tta = ("--ckpt_path", str(tiny_model.best), "--model.tta", "8")
    csv_path = tmp_path / "tta.csv"
    run("predict", tiny, tmp_path, *tta, "--predictions", str(csv_path))
    with csv_path.open(newline="") as file:
        right = sum(row["prediction"] == row["label"] for row in csv.DictReader(file))
    assert 150 < right < 190  # shifts of 8 pixels change some answers, deliberately

    test = run("test", tiny, tmp_path, *tta)
    assert float(test.trainer.callback_metrics["test/acc"]) == 1.0
    assert float(test.trainer.callback_metrics["test/acc_tta"]) == pytest.approx(right / 200)
    out = capsys.readouterr().out
    assert f"Test-time augmentation (tta 8): accuracy {right / 200:.2%}" in out


def test_shift_image_moves_pixels_and_fills_the_edge() -> None:
    image = torch.arange(9.0).view(1, 1, 3, 3)
    down = shift_image(image, 1, 0, -1.0)[0, 0]
    assert down.tolist() == [[-1, -1, -1], [0, 1, 2], [3, 4, 5]]
    left = shift_image(image, 0, -1, -1.0)[0, 0]
    assert left.tolist() == [[1, 2, -1], [4, 5, -1], [7, 8, -1]]
