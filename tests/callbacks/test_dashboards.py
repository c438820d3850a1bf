"""TensorBoard after a tiny fit and test, read back with TensorBoard's own event reader."""

from pathlib import Path

import pytest
import torch
import yaml

from mnist_lit.callbacks.dashboards import Dashboards
from mnist_lit.models.classifier import BEST_KEY
from tests.helpers import (
    Mistakes,
    TinyMNIST,
    TrainedModel,
    events,
    hparams_of,
    image,
    run,
    shown_images,
)

ATTRIBUTIONS = ("--dashboards.attributions", "true")
"""The attribution maps after test, which the tests' runs leave out (``cli_args``)."""


def test_fit_and_test_fill_every_tensorboard_tab(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--model.lr", "0.002")
    board = events(Path(fit.trainer.log_dir))
    tags = board.Tags()
    assert {
        "data/samples",
        "val/predictions",
        "val/confusion_matrix",
        "val/digit_accuracy",
        "model/feature_maps",
        "model/filters_conv1",
    } <= set(tags["images"])
    assert len(board.Images("val/predictions")) == 2  # after each epoch, not the sanity check
    assert {"train/loss", "val/acc", "val/acc_best", "val/acc_digit_9"} <= set(tags["scalars"])
    assert "hp_metric" not in tags["scalars"]  # Lightning's placeholder, stuck at -1
    assert "custom_scalars__config__" in tags["tensors"]  # per-digit accuracies on one chart
    layers = board.Tensors("model/layers/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "128 x 3 x 3" in layers and "249,162" in layers

    params, metric_tags = hparams_of(board)
    assert params["stage"] == "fit"
    assert params["model.lr"] == pytest.approx(0.002)
    assert params["data.batch_size"] == 32 and params["trainer.max_epochs"] == 2
    assert {"val/acc", "val/acc_best", "test/acc"} <= set(metric_tags)
    best = board.Scalars("val/acc_best")
    assert best[-1].value == max(e.value for e in board.Scalars("val/acc"))

    test = run("test", tiny_mnist, tmp_path, "--ckpt_path", "best")
    board = events(Path(test.trainer.log_dir))
    assert {
        "test/predictions",
        "test/misclassified",
        "test/confusion_matrix",
        "test/digit_accuracy",
        "model/feature_maps",
        "model/filters_conv1",
    } <= set(board.Tags()["images"])
    params, _ = hparams_of(board)
    assert params["stage"] == "test" and str(params["ckpt_path"]).endswith(".ckpt")


def test_the_test_figures_show_the_mistakes_most_confident_first(
    mistakes: Mistakes, tiny_model: TrainedModel, tmp_path: Path
) -> None:
    test = run("test", mistakes.tiny, tmp_path, "--ckpt_path", str(tiny_model.best), *ATTRIBUTIONS)
    board = events(Path(test.trainer.log_dir))
    candidates = mistakes.tiny.test_images
    shown = shown_images(image(board, "test/misclassified"), candidates)
    assert shown == [(i, "red") for i in mistakes.wrong]  # all 7, and no right answer
    shown = shown_images(image(board, "test/predictions"), candidates)
    assert shown == [(i, "red" if i in mistakes.wrong else "green") for i in range(32)]
    # the maps of the 5 most confident mistakes, each twice (why read, why not the true digit):
    # 10 rows of 1.3 inches and a title, at 100 dots per inch
    assert image(board, "test/attributions_mistakes").shape[0] == 1350
    assert "test/attributions" in board.Tags()["images"]  # the right digits


def test_figures_can_be_thinned_or_turned_off(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run(
        "fit", tiny_mnist, tmp_path / "a", "--trainer.max_epochs", "3",
        "--dashboards.every_n_epochs", "2",
    )  # fmt: skip
    steps = [image.step for image in events(Path(fit.trainer.log_dir)).Images("val/predictions")]
    assert len(steps) == 2  # epoch 2, and the last epoch (3)

    fit = run(
        "fit", tiny_mnist, tmp_path / "b", "--trainer.max_epochs", "1",
        "--dashboards.figures", "false",
    )  # fmt: skip
    board = events(Path(fit.trainer.log_dir))
    assert board.Tags()["images"] == []
    assert "val/acc" in board.Tags()["scalars"] and hparams_of(board)[0]["stage"] == "fit"


def test_runs_without_tensorboard(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2", "--trainer.logger", "false")
    assert fit.trainer.current_epoch == 2  # trained all epochs; nothing to draw into
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_hparams_yaml_keeps_lightnings_format(tiny_mnist: TinyMNIST, tmp_path: Path) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "1")
    saved = yaml.safe_load((Path(fit.trainer.log_dir) / "hparams.yaml").read_text())
    assert saved["channels"] == [32, 64, 128] and saved["batch_size"] == 32  # model and data


def test_without_validation_feature_maps_come_from_training(
    tiny_mnist: TinyMNIST, tmp_path: Path
) -> None:
    fit = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "1", "--data.val_size", "0")
    tags = events(Path(fit.trainer.log_dir)).Tags()
    assert "model/feature_maps" in tags["images"]
    assert not any(tag.startswith("val/") for tag in tags["images"] + tags["scalars"])


@pytest.mark.parametrize("where", ["model", "older Dashboards state"])
def test_resumed_fit_goes_on_from_the_best_accuracy(
    tiny_mnist: TinyMNIST, tmp_path: Path, where: str
) -> None:
    first = run("fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "2")
    last = Path(first.trainer.log_dir) / "checkpoints" / "last.ckpt"
    best = max(e.value for e in events(Path(first.trainer.log_dir)).Scalars("val/acc"))
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint[BEST_KEY] == pytest.approx(best)  # saved with the checkpoint
    if where == "model":
        checkpoint[BEST_KEY] = 0.999  # a best this run cannot reach in one more epoch
    else:  # as checkpoints written before the model logged val/acc_best kept it
        del checkpoint[BEST_KEY]
        checkpoint["callbacks"]["Dashboards"] = {"best_val_acc": 0.999}
    torch.save(checkpoint, last)

    resumed = run(
        "fit", tiny_mnist, tmp_path, "--trainer.max_epochs", "3", "--ckpt_path", str(last)
    )
    board = events(Path(resumed.trainer.log_dir))
    assert board.Scalars("val/acc")[-1].value < 0.999
    assert board.Scalars("val/acc_best")[-1].value == pytest.approx(0.999)  # carried on


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="every_n_epochs"):
        Dashboards(every_n_epochs=0)
