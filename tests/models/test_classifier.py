import torch
from lightning.pytorch import Trainer

from mnist_lit.models.classifier import MNISTClassifier


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
    probs = model.predict_step((torch.randn(5, 1, 28, 28), torch.zeros(5)), 0)
    assert probs.shape == (5, 10)
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
