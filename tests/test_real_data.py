"""Tests on the real MNIST files in ../shared/data/mnist (skipped when they are absent)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_lit.cli import main
from mnist_lit.constants import IMAGE_SIZE, TEST_IMAGES, TRAIN_IMAGES
from mnist_lit.data.datamodule import MNISTDataModule, TensorImages, normalize
from mnist_lit.data.mnist import fetch_mnist
from mnist_lit.data.preprocess import preprocess
from mnist_lit.data.synthetic import canvas, on_paper
from mnist_lit.models.classifier import MNISTClassifier
from tests.helpers import CONFIG


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
        "--dashboards.attributions", "false",  # seconds; tests/callbacks/test_dashboards.py has them
    ]  # fmt: skip
    main(["fit", *common])
    test = main(["test", *common, "--ckpt_path", "best"])
    assert test.trainer.callback_metrics["test/acc"] >= 0.95


def mnist_test_digits(mirror: Path, data_dir: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` MNIST test images (28x28 uint8) and their labels."""
    dm = MNISTDataModule(data_dir=str(data_dir), mirror=str(mirror), download=False)
    dm.prepare_data()
    dm.setup("test")
    assert isinstance(dm.test_set, TensorImages)
    return dm.test_set.images[:count].numpy(), dm.test_set.labels[:count].numpy()


def test_preprocessing_gives_back_mnist_digits(real_mnist: Path, tmp_path: Path) -> None:
    images, _ = mnist_test_digits(real_mnist, tmp_path / "data", 1000)
    out = np.stack([preprocess(Image.fromarray(digit)) for digit in images])
    difference = np.abs(out.astype(int) - images.astype(int))
    assert difference.mean() < 1.5  # grey levels, of 255
    per_image = difference.reshape(len(images), -1).mean(axis=1)
    assert (per_image < 5).mean() > 0.97  # the rest moved by a pixel: a rounded centre of mass


def write_disguised(images: np.ndarray, labels: np.ndarray, root: Path, kind: str) -> Path:
    """MNIST digits as a user's labelled folder: JPEG photos of paper, or RGBA canvas PNGs."""
    rng = np.random.default_rng(0)
    for i, (digit, label) in enumerate(zip(images, labels, strict=True)):
        path = root / kind / str(label) / f"{i}.{'jpg' if kind == 'paper' else 'png'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "paper":
            on_paper(digit, rng).save(path, quality=85)
        else:
            canvas(digit, rng).save(path)
    return root / kind


@pytest.mark.slow
@pytest.mark.xdist_group("real_model")  # one worker trains real_model for it and tests/explain
def test_disguised_test_digits_score_as_the_originals(
    real_mnist: Path, real_model: Path, tmp_path: Path
) -> None:
    common = [
        "--config", CONFIG,
        "--data.mirror", str(real_mnist),
        "--data.data_dir", str(tmp_path / "data"),
        "--trainer.default_root_dir", str(tmp_path),
        "--trainer.enable_progress_bar", "false",
        "--dashboards.attributions", "false",  # seconds; tests/callbacks/test_dashboards.py has them
        "--trainer.enable_model_summary", "false",
    ]  # fmt: skip
    images, labels = mnist_test_digits(real_mnist, tmp_path / "data", 1000)
    model = MNISTClassifier.load_from_checkpoint(real_model).eval()
    with torch.no_grad():
        logits = model(normalize(torch.from_numpy(images).unsqueeze(1)))
    original = float((logits.argmax(1).numpy() == labels).mean())
    for kind in ("paper", "canvas"):
        folder = write_disguised(images, labels, tmp_path / "user", kind)
        args = ["--ckpt_path", str(real_model), "--data.custom_dir", str(folder)]
        test = main(["test", *common, *args])
        accuracy = float(test.trainer.callback_metrics["test/acc"])
        assert accuracy >= original - 0.015, (kind, accuracy, original)
