from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from mnist_lit.models.classifier import MNISTClassifier
from tests.helpers import Mistakes, TrainedModel, run


def test_a_few_adam_steps_fit_one_batch() -> None:
    torch.manual_seed(0)
    model = MNISTClassifier(lr=1e-3)
    optimizer = model.configure_optimizers()
    images, labels = torch.randn(16, 1, 28, 28), torch.arange(16) % 10
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_predict_step_returns_probabilities() -> None:
    model = MNISTClassifier().eval()
    probs, unsure = model.predict_step((torch.randn(5, 1, 28, 28), torch.zeros(5)), 0)
    assert probs.shape == (5, 10) and unsure.shape == (5,)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(5))


def test_checkpoint_alone_restores_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = MNISTClassifier(channels=(4, 8, 16), hidden=(16, 8), dropout=0.1, lr=3e-4)
    trainer = Trainer(logger=False, enable_checkpointing=False, default_root_dir=tmp_path)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    restored = MNISTClassifier.load_from_checkpoint(tmp_path / "m.ckpt").eval()
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(restored(x), model.eval()(x))
    assert restored.hparams["lr"] == 3e-4


def printed_digit_table(out: str) -> dict[str, tuple[float, int]]:
    """``test``'s printed table: ``{digit or "all": (accuracy in %, images)}``."""
    table = out[out.index("digit  accuracy   images") :].splitlines()[2:13]
    return {
        name: (float(acc.rstrip("%")), int(count.replace(",", "")))
        for name, acc, count in (line.split() for line in table)
    }


def test_per_digit_accuracies_of_test_add_up_to_the_overall_one(
    mistakes: Mistakes, tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each digit's accuracy is over the images of that digit (recall, not precision), of ``test``."""
    test = run("test", mistakes.tiny, tmp_path, "--ckpt_path", str(tiny_model.best))
    metrics = test.trainer.callback_metrics
    assert float(metrics["test/acc"]) == pytest.approx(mistakes.right / 200)  # 193 of 200
    table = printed_digit_table(capsys.readouterr().out)
    labels = mistakes.tiny.test_labels
    for d in range(10):
        images = labels == d
        right = int((mistakes.predicted[images] == d).sum())
        assert table[str(d)] == (pytest.approx(100 * right / images.sum(), abs=0.005), images.sum())
        assert float(metrics[f"test/acc_digit_{d}"]) == pytest.approx(right / images.sum())
    # weighted by its images, each digit's figure counts its right answers: together, all of them
    right_answers = sum(acc / 100 * images for acc, images in (table[str(d)] for d in range(10)))
    assert right_answers == pytest.approx(mistakes.right, abs=0.01)
    assert table["all"] == (pytest.approx(100 * mistakes.right / 200), 200)
