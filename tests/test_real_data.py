"""Tests on the real MNIST files in ../shared/data/mnist (skipped when they are absent)."""

from pathlib import Path

import pytest

from mnist_lit.cli import main
from mnist_lit.constants import IMAGE_SIZE, TEST_IMAGES, TRAIN_IMAGES
from mnist_lit.fetch import fetch_mnist

from .conftest import CONFIG


def test_real_files_verify(real_mnist: Path, tmp_path: Path) -> None:
    raw = fetch_mnist(tmp_path / "data", mirror=str(real_mnist), download=False)
    sizes = {p.name: p.stat().st_size for p in raw.iterdir()}
    assert sizes["train-images-idx3-ubyte"] == 16 + TRAIN_IMAGES * IMAGE_SIZE * IMAGE_SIZE
    assert sizes["t10k-labels-idx1-ubyte"] == 8 + TEST_IMAGES


@pytest.mark.slow
def test_one_epoch_on_5000_real_images_reaches_95_percent(real_mnist: Path, tmp_path: Path) -> None:
    # 157 steps of the reference recipe land at 93.8-95.5% (seeds 3, 4, 5, 42; AMD EPYC), too close
    # to 95% for a test; with the batch-norm option the same network reaches 96.5-97.7%.
    common = [
        "--config", CONFIG,
        "--data.mirror", str(real_mnist),
        "--data.data_dir", str(tmp_path / "data"),
        "--data.train_size", "5000",
        "--data.val_size", "1000",
        "--trainer.max_epochs", "1",
        "--model.batch_norm", "true",
        "--trainer.default_root_dir", str(tmp_path),
        "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    main(["fit", *common])
    test = main(["test", *common, "--ckpt_path", "best"])
    assert test.trainer.callback_metrics["test/acc"] >= 0.95
