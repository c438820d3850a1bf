"""Generated non-digits for outlier exposure: shaped like MNIST, seeded, and learned as no digit."""

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_lit.constants import NOT_A_DIGIT
from mnist_lit.data.datamodule import MNISTDataModule
from mnist_lit.data.non_digits import make_non_digits
from mnist_lit.errors import ConfigError
from mnist_lit.models.classifier import MNISTClassifier
from tests.helpers import TinyMNIST, run


def test_they_look_like_mnist_digits_and_repeat_by_seed(tiny_mnist: TinyMNIST) -> None:
    digits = torch.from_numpy(tiny_mnist.train_images)
    made = make_non_digits(digits, 60, seed=3)
    assert made.shape == (60, 28, 28) and made.dtype == torch.uint8
    assert torch.equal(made, make_non_digits(digits, 60, seed=3))
    assert not torch.equal(made, make_non_digits(digits, 60, seed=4))
    for image in made.numpy().astype(float):
        rows, cols = np.nonzero(image)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21  # in a 20x20 box
        total = image.sum()
        centre = ((image.sum(axis=1) * np.arange(28)).sum() / total,
                  (image.sum(axis=0) * np.arange(28)).sum() / total)  # fmt: skip
        assert abs(centre[0] - 14) < 2 and abs(centre[1] - 14) < 2  # centred like MNIST
        assert image.max() == 255
    # none is a copy of a training digit
    assert not any(torch.equal(m, d) for m in made for d in digits)


def test_the_datamodule_adds_them_to_training_only(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    dm = MNISTDataModule(data_dir=str(tmp_path), mirror=str(tiny_mnist.mirror), val_size=100,
                         non_digits=0.25)  # fmt: skip
    dm.prepare_data()
    dm.setup("fit")
    assert dm.train_set is not None and dm.val_set is not None
    labels = dm.train_set.labels
    assert int((labels == NOT_A_DIGIT).sum()) == 125  # a quarter of the 500 training digits
    assert len(labels) == 625
    assert bool((dm.val_set.labels >= 0).all())
    with pytest.raises(ConfigError, match=r"non_digits must be in \[0, 1\], got 2"):
        MNISTDataModule(non_digits=2)


def test_a_non_digits_loss_is_the_cross_entropy_to_equal_probabilities() -> None:
    torch.manual_seed(0)
    model = MNISTClassifier(non_digit_weight=0.5)
    images = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([3, NOT_A_DIGIT, 7, NOT_A_DIGIT])
    with torch.no_grad():
        loss, losses, logits = model._loss(images, labels)
        log_p = logits.log_softmax(dim=1)
        assert float(losses[0]) == pytest.approx(float(-log_p[0, 3]), abs=1e-5)
        assert float(losses[1]) == pytest.approx(float(-0.5 * log_p[1].mean()), abs=1e-5)
        assert float(loss) == pytest.approx(float(losses.mean()))
    # with digits only, the loss is the plain cross-entropy, as before non-digits existed
    digits = torch.tensor([3, 1, 7, 0])
    with torch.no_grad():
        plain = torch.nn.functional.cross_entropy(model(images), digits)
        assert float(model._loss(images, digits)[0]) == pytest.approx(float(plain), abs=1e-6)


def test_fit_with_non_digits_trains_and_reports_digit_accuracy(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--data.non_digits", "0.5")
    metrics = fit.trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss_epoch"])
    assert 0.5 < float(metrics["train/acc_epoch"]) <= 1  # of the digits: non-digits not counted
    assert float(metrics["val/acc"]) > 0.5
