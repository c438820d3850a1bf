"""Training options used by the fast preset: schedule, label smoothing, memory layout, fused Adam."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer

from mnist_lit.cli import main
from mnist_lit.models.classifier import MNISTClassifier
from tests.helpers import ROOT, TinyMNIST, cli_args, expect_error, run

FAST = str(ROOT / "configs" / "presets" / "fast.yaml")


class LearningRates(Callback):
    """Record the learning rate each training step uses."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_train_batch_start(self, trainer: Trainer, *args) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(trainer.optimizers[0].param_groups[0]["lr"])


class Layouts(Callback):
    """Record whether conv2's weight is channels-last at every training step (conv1 has one input
    channel, so its weight is laid out the same either way)."""

    def __init__(self) -> None:
        self.seen: set[bool] = set()

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, *args) -> None:  # type: ignore[no-untyped-def]
        weight = pl_module.net.conv_layers()[1].weight  # type: ignore[union-attr, operator]
        self.seen.add(weight.is_contiguous(memory_format=torch.channels_last))


def test_onecycle_rises_to_lr_and_anneals_by_the_last_step(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    args = cli_args(
        tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--data.batch_size", "50",
        "--model.schedule", "onecycle", "--model.lr", "0.01", "--model.warmup", "0.3",
    )  # fmt: skip
    cli = main(args, run=False)
    rates = LearningRates()
    cli.trainer.callbacks.append(rates)  # type: ignore[attr-defined]
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert len(rates.seen) == 2 * 10  # 500 images, batch 50: one rate per step
    assert rates.seen[0] == pytest.approx(0.01 / 25)  # OneCycle's start
    assert max(rates.seen) == pytest.approx(0.01, rel=1e-3)
    assert rates.seen.index(max(rates.seen)) == 5  # 30% of the way
    assert rates.seen[-1] < 1e-6  # annealed by the last step
    assert cli.trainer.optimizers[0].param_groups[0]["betas"] == (0.9, 0.999)  # not cycled


def test_onecycle_without_a_known_length_is_one_line(
    tiny_mnist: TinyMNIST, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli_args(tiny_mnist, tmp_path, "--model.schedule", "onecycle")
    err = expect_error(capsys, ["fit", *args, "--trainer.max_epochs", "-1"])
    assert "set trainer.max_epochs or trainer.max_steps" in err.strip().splitlines()[-1]


def test_a_constant_schedule_trains_without_a_set_length(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    # no max_epochs or max_steps, only a time limit: fine without a schedule to size
    limits = ("--trainer.max_epochs", "-1", "--trainer.max_time", "00:00:00:03")
    fit = run("fit", tiny_mnist, tmp_path, *limits)
    assert fit.trainer.current_epoch >= 1


def test_label_smoothing_applies_to_training_only() -> None:
    torch.manual_seed(0)
    model = MNISTClassifier(label_smoothing=0.2)
    with torch.no_grad():  # confident logits, where smoothing makes a difference
        model.net.classifier[-1].bias.copy_(3 * torch.arange(10.0))
    images, labels = torch.randn(8, 1, 28, 28), torch.full((8,), 9)
    logits = model(images)
    plain, smoothed = (
        F.cross_entropy(logits, labels, label_smoothing=s).item() for s in (0.0, 0.2)
    )
    assert model._shared_step((images, labels), "train")[0].item() == pytest.approx(smoothed)
    assert model._shared_step((images, labels), "val")[0].item() == pytest.approx(plain)
    assert smoothed > plain + 0.5


@pytest.mark.parametrize(("option", "expected"), [("null", True), ("false", False)])
def test_channels_last_during_training_only(
    tiny_mnist: TinyMNIST, tmp_path: Path, option: str, expected: bool
) -> None:
    args = cli_args(
        tiny_mnist, tmp_path, "--trainer.max_epochs", "1", "--model.channels_last", option,
        "--model.fused", "true",
    )  # fmt: skip
    cli = main(args, run=False)
    layouts = Layouts()
    cli.trainer.callbacks.append(layouts)  # type: ignore[attr-defined]
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert layouts.seen == {expected}  # null: channels-last on the CPU
    assert cli.trainer.optimizers[0].defaults["fused"] is True
    assert cli.model.net.conv_layers()[1].weight.is_contiguous()  # the default layout after fit


def test_fast_preset_is_valid_for_every_subcommand(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--config", FAST, "--data.train_size", "400")
    assert fit.trainer.max_epochs == 1 and fit.model.hparams["schedule"] == "onecycle"
    assert fit.trainer.precision in ("32-true", "bf16-mixed")  # auto, by this machine's CPU
    test = run("test", tiny_mnist, tmp_path, "--config", FAST, "--ckpt_path", "best")
    assert test.trainer.callback_metrics["test/acc"] > 0.5


def test_optimizer_state_from_the_other_layout_is_converted() -> None:
    """A checkpoint's Adam moments laid out unlike the weights (e.g. a run made before the weights
    were trained channels-last) would make fused Adam mix up elements."""
    torch.manual_seed(0)
    model = MNISTClassifier(fused=True)
    optimizer = torch.optim.Adam(model.parameters(), fused=True)
    model(torch.randn(4, 1, 28, 28)).sum().backward()
    optimizer.step()  # moments created in the default layout
    conv2 = model.net.conv_layers()[1].weight
    before = optimizer.state[conv2]["exp_avg"].clone()
    model.to(memory_format=torch.channels_last)  # as setup('fit') does on a CPU
    model._trainer = SimpleNamespace(  # type: ignore[assignment]
        optimizers=[optimizer], lr_scheduler_configs=[], estimated_stepping_batches=1
    )
    model.on_train_start()
    after = optimizer.state[conv2]["exp_avg"]
    assert after.stride() == conv2.stride() != before.stride()
    torch.testing.assert_close(after, before)  # same values, new layout
