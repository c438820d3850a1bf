"""A checkpoint written before the package was laid out by role still loads, and scores the same.

``fixtures/v0.1.0-fast.ckpt`` was written by ``python -m mnist_lit fit --config
configs/default.yaml --config configs/presets/fast.yaml --trainer.precision 32-true`` at commit
1c7978d (the flat layout), and tested there at 99.23% on the 10,000 MNIST test images.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from mnist_lit.cli import main
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.report.command import main as report
from tests.helpers import CONFIG, TinyMNIST

OLD = Path(__file__).parents[1] / "fixtures" / "v0.1.0-fast.ckpt"
OLD_TEST_ACCURACY = 0.9923
"""``test/acc`` of ``OLD`` on MNIST's test set, measured by the code that wrote it."""


def _args(mirror: Path, root: Path, *extra: str) -> list[str]:
    return [
        "--config", CONFIG,
        "--data.mirror", str(mirror),
        "--data.data_dir", str(root / "data"),
        "--trainer.default_root_dir", str(root),
        "--trainer.enable_progress_bar", "false",
        "--dashboards.attributions", "false",  # seconds; tests/callbacks/test_dashboards.py has them
        "--ckpt_path", str(OLD),
        *extra,
    ]  # fmt: skip


def test_an_old_checkpoint_rebuilds_its_model(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    cli = main(["test", *_args(tiny_mnist.mirror, tmp_path)])
    hparams = cli.model.hparams
    assert hparams["lr"] == 0.005 and hparams["schedule"] == "onecycle"  # the fast preset's
    weights = torch.load(OLD, weights_only=True)["state_dict"]
    for name, value in cli.model.state_dict().items():
        assert torch.equal(value.cpu(), weights[name]), name
    assert "test/acc" in cli.trainer.callback_metrics


def test_an_old_checkpoint_predicts_reports_and_serves(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    cli = main(["predict", *_args(tiny_mnist.mirror, tmp_path)])
    rows = list(csv.DictReader((Path(cli.trainer.log_dir) / "predictions.csv").open()))
    assert len(rows) == 200
    page = report(
        [
            "--ckpt_path", str(OLD),
            "--out", str(tmp_path / "report"),
            "--data.mirror", str(tiny_mnist.mirror),
            "--data.data_dir", str(tmp_path / "data"),
            "--attributions", "false",  # the Recogniser below explains with the old checkpoint
        ]
    )  # fmt: skip
    metrics = json.loads((page.parent / "metrics.json").read_text())
    assert metrics["images"] == 200
    digit = tiny_mnist.test_images[0]
    reading = Recogniser.from_checkpoint(OLD)(Image.fromarray(digit))
    assert 0 <= reading.digit <= 9
    assert reading.attribution is not None and reading.attribution.shape == (28, 28)


def test_an_old_checkpoint_scores_as_it_did_on_mnist(real_mnist: Path, tmp_path: Path) -> None:
    cli = main(["test", *_args(real_mnist, tmp_path)])
    accuracy = float(cli.trainer.callback_metrics["test/acc"])
    assert accuracy == pytest.approx(OLD_TEST_ACCURACY, abs=1.5e-4)  # one image either way
