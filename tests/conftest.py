"""Shared fixtures: tiny synthetic MNIST files (no network), a model trained on them once per
session, and the real MNIST mirror when present. Helpers live in ``tests/helpers/``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from mnist_lit.cli import main
from mnist_lit.data import mnist as fetch
from tests.helpers import (
    CONFIG,
    PRESETS,
    SHARED_MNIST,
    Mistakes,
    TinyMNIST,
    TrainedModel,
    make_mistakes,
    run,
    write_tiny_mnist,
)


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyMNIST:
    """Write 600 training and 200 test synthetic digits as MNIST files (train gzipped, test not)."""
    return write_tiny_mnist(tmp_path / "mirror", monkeypatch)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """The default model trained 2 epochs on ``tiny_mnist``'s data, and its test predictions, once.

    For tests that only use a trained model (``test``, ``predict``, the report, the demo): they
    pass ``--ckpt_path`` its checkpoint and must not write into its run folder.
    """
    root = tmp_path_factory.mktemp("tiny_model")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr("sys.argv", ["mnist_lit"])
        tiny = write_tiny_mnist(root / "mirror", monkeypatch)
        fit = run("fit", tiny, root, "--trainer.max_epochs", "2")
        run_dir = Path(fit.trainer.log_dir)
        best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
        predictions = root / "predictions.csv"
        run("predict", tiny, root, "--ckpt_path", str(best), "--predictions", str(predictions))
    with predictions.open(newline="") as file:
        return TrainedModel(run_dir, best, list(csv.DictReader(file)))


@pytest.fixture
def mistakes(
    tiny_mnist: TinyMNIST, tiny_model: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> Mistakes:
    """``tiny_mnist`` labelled so that ``tiny_model`` is right on all test images but 7, of 7 digits."""
    return make_mistakes(tiny_mnist, tiny_model, monkeypatch)


@pytest.fixture
def real_mnist() -> Path:
    """The real MNIST files in ``../shared/data/mnist``; skips the test when they are absent."""
    if not all((SHARED_MNIST / f"{name}.gz").is_file() for name in fetch.FILES):
        pytest.skip(f"real MNIST not found in {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture(scope="session")
def real_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The best checkpoint of the fast preset trained on 20,000 real MNIST images, once.

    With the recommended preset's degraded copies and non-digits (``best.yaml``), so that its
    "unsure" catches drawn letters too: 98.4-98.6% of the validation images right, in about 20 s
    on 2 CPU cores. Skips the test when the real files are absent.
    """
    if not all((SHARED_MNIST / f"{name}.gz").is_file() for name in fetch.FILES):
        pytest.skip(f"real MNIST not found in {SHARED_MNIST}")
    root = tmp_path_factory.mktemp("real_model")
    recommended = yaml.safe_load((PRESETS / "best.yaml").read_text())["data"]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr("sys.argv", ["mnist_lit"])
        fit = main([
            "fit", "--config", CONFIG, "--config", str(PRESETS / "fast.yaml"),
            "--data.mirror", str(SHARED_MNIST), "--data.data_dir", str(root / "data"),
            "--data.train_size", "20000",
            "--data.augment_degrade", str(recommended["augment_degrade"]),
            "--data.non_digits", str(recommended["non_digits"]),
            "--trainer.default_root_dir", str(root),
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        ])  # fmt: skip
    return next((Path(fit.trainer.log_dir) / "checkpoints").glob("best-*.ckpt"))


@pytest.fixture(autouse=True)
def plain_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide pytest's own arguments from LightningCLI, which reads sys.argv when given args too."""
    monkeypatch.setattr("sys.argv", ["mnist_lit"])


@pytest.fixture(autouse=True)
def pillow_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restore Pillow's pixel limit after each test: the demo's main lowers it for its process."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs two workers), each worker computes on one thread.

    Two workers with two threads each would fight over a 2-core machine's cores; the subprocesses
    the tests start inherit the limit through ``OMP_NUM_THREADS``.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
