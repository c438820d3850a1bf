"""Test-time augmentation (``--model.tta``): a setting of use for any checkpoint, reported beside
the plain accuracy by ``test`` and as averaged probabilities by ``predict``."""

import csv
from pathlib import Path

import pytest
import torch

from mnist_lit.data.datamodule import normalize
from mnist_lit.models.classifier import MNISTClassifier, shift_image
from tests.helpers import TinyMNIST, TrainedModel, run


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
        expected = torch.stack([model(c).softmax(dim=1)[0] for c in copies]).mean(dim=0)
    assert [float(row[f"p{d}"]) for d in range(10)] == pytest.approx(expected.tolist(), abs=1e-4)


def test_shift_image_moves_pixels_and_fills_the_edge() -> None:
    image = torch.arange(9.0).view(1, 1, 3, 3)
    down = shift_image(image, 1, 0, -1.0)[0, 0]
    assert down.tolist() == [[-1, -1, -1], [0, 1, 2], [3, 4, 5]]
    left = shift_image(image, 0, -1, -1.0)[0, 0]
    assert left.tolist() == [[1, 2, -1], [4, 5, -1], [7, 8, -1]]
