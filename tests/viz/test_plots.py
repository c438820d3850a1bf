"""The figures on tiny tensors: what a reader of each figure would check by eye."""

import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from mnist_lit.data.preprocess import normalize
from mnist_lit.experiments import plots as scale_plots
from mnist_lit.models.convnet import ConvNet
from mnist_lit.viz import plots
from mnist_lit.viz.introspect import feature_maps, layer_table

RED, GREEN = to_hex("red"), to_hex("green")


def digits(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` normalised random images and labels 0, 1, ..., 9, 0, ..."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return normalize(pixels), torch.arange(n) % 10


def confident(
    labels: torch.Tensor, predicted: torch.Tensor, confidence: torch.Tensor
) -> torch.Tensor:
    """Probabilities whose argmax is ``predicted`` with probability ``confidence``."""
    rest = (1 - confidence) / 9
    probabilities = rest.unsqueeze(1).repeat(1, 10)
    probabilities[torch.arange(len(labels)), predicted] = confidence
    return probabilities


def texts(fig: Figure) -> list[tuple[str, str]]:
    """(text, colour) of every text drawn on the figure's axes, in drawing order."""
    return [(t.get_text(), to_hex(t.get_color())) for ax in fig.axes for t in ax.texts]


def test_predictions_right_in_green_wrong_in_red() -> None:
    images, labels = digits(6)
    predicted = labels.clone()
    predicted[[1, 4]] = (labels[[1, 4]] + 1) % 10  # two mistakes
    probabilities = confident(labels, predicted, torch.full((6,), 0.9))
    fig = plots.plot_predictions(images, labels, probabilities, columns=3)
    drawn = texts(fig)
    assert len(drawn) == 6
    assert [colour for _, colour in drawn] == [GREEN, RED, GREEN, GREEN, RED, GREEN]
    assert drawn[1][0] == "2 (90%)\ntrue 1"  # predicted digit, its probability, the truth
    assert drawn[0][0] == "0 (90%)"
    assert "4 of 6 right" in fig.texts[0].get_text()  # the suptitle


def test_misclassified_only_wrong_ones_most_confident_first() -> None:
    images, labels = digits(20)
    predicted = labels.clone()
    wrong = torch.tensor([3, 7, 12])
    predicted[wrong] = (labels[wrong] + 5) % 10
    confidence = torch.full((20,), 0.95)
    confidence[wrong] = torch.tensor([0.6, 0.99, 0.8])
    fig = plots.plot_misclassified(images, labels, confident(labels, predicted, confidence))
    drawn = texts(fig)
    assert [colour for _, colour in drawn] == [RED] * 3
    assert [text.split()[1] for text, _ in drawn] == ["(99.0%)", "(80%)", "(60%)"]
    assert "3 of 20" in fig.texts[0].get_text()

    none_wrong = plots.plot_misclassified(images, labels, confident(labels, labels, confidence))
    assert "none of 20" in none_wrong.texts[0].get_text()


def test_samples_are_shown_as_pixels_with_one_row_per_digit() -> None:
    pixels = torch.zeros(30, 1, 28, 28, dtype=torch.uint8)
    pixels[:, :, 10:18, 12:16] = 255  # a white bar on black, as MNIST
    labels = torch.arange(30) % 10
    fig = plots.plot_samples(normalize(pixels, 0.1307, 0.3081), labels, 0.1307, 0.3081, per_digit=3)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(d) for d in range(10)]
    shown = np.ma.filled(ax.images[0].get_array(), np.nan)
    # undone normalisation: background black (0), stroke white (1), whatever mean/std were used
    assert np.nanmin(shown) == pytest.approx(0, abs=1e-6)
    assert np.nanmax(shown) == pytest.approx(1, abs=1e-6)
    assert np.isnan(shown[28]).all()  # a white line between the rows


def test_digit_accuracy_bars_carry_their_values_and_the_overall_line() -> None:
    per_digit = torch.tensor([0.99, 0.985, 1.0, 0.97, 0.995, 0.99, 0.99, 0.98, 0.96, float("nan")])
    fig = plots.plot_digit_accuracy(per_digit, 0.9855)
    ax = fig.axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert heights[:9] == pytest.approx([99, 98.5, 100, 97, 99.5, 99, 99, 98, 96])
    labels = [t.get_text() for t in ax.texts]
    assert labels[:3] == ["99.00", "98.50", "100.00"] and labels[9] == "n/a"
    line = ax.get_lines()[0]
    assert line.get_ydata()[0] == pytest.approx(98.55)
    assert "98.55%" in ax.get_legend().get_texts()[0].get_text()
    low, high = ax.get_ylim()
    assert low < 96  # the lowest bar is visible
    for text in ax.texts:  # every label lies inside the axes, where it is drawn
        assert low < text.get_position()[1] < high, text.get_text()


def test_digit_accuracy_labels_stay_readable_on_short_and_missing_bars() -> None:
    per_digit = torch.tensor([1.0, 0.0, float("nan")] + [0.99] * 7)
    ax = plots.plot_digit_accuracy(per_digit, 0.8).axes[0]
    low, high = ax.get_ylim()
    texts = {t.get_text(): t for t in ax.texts}
    for name in ("0.00", "n/a", "100.00"):
        assert low <= texts[name].get_position()[1] < high, name
    assert to_hex(texts["0.00"].get_color()) != to_hex("white")  # above an empty bar: dark
    assert to_hex(texts["n/a"].get_color()) != to_hex("white")
    assert to_hex(texts["100.00"].get_color()) == to_hex("white")  # inside its bar


def test_confusion_matrix_counts_and_normalised_rows() -> None:
    confmat = torch.diag(torch.full((10,), 95))
    confmat[3, 5] = 5
    confmat[7] = torch.tensor([0, 0, 0, 0, 0, 0, 0, 80, 0, 20])
    fig = plots.plot_confusion_matrix(confmat)
    ax = fig.axes[0]
    cells = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
    }
    assert cells[(3, 5)] == "5" and cells[(3, 3)] == "95" and cells[(7, 9)] == "20"
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in range(10)]

    normalised = plots.plot_confusion_matrix(confmat, normalize=True).axes[0]
    values = np.zeros((10, 10))
    for t in normalised.texts:
        values[round(t.get_position()[1]), round(t.get_position()[0])] = float(t.get_text())
    assert values.sum(axis=1) == pytest.approx(np.full(10, 100))
    assert values[7, 9] == 20


def test_feature_maps_show_every_conv1_channel_and_the_most_active_deeper_ones() -> None:
    net = ConvNet()
    images, _ = digits(1)
    maps = feature_maps(net.features, images)
    assert [tuple(m.shape) for m in maps] == [(1, 32, 28, 28), (1, 64, 14, 14), (1, 128, 7, 7)]
    assert all((m >= 0).all() for m in maps)  # activations after ReLU
    fig = plots.plot_feature_maps(images[0], [m[0] for m in maps])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "input image",
        "conv1: all 32 channels, 28x28 each",
        "conv2: 32 most active of 64 channels, 14x14 each",
        "conv3: 32 most active of 128 channels, 7x7 each",
    ]
    # The chosen conv3 channels are the 32 with the highest mean activation, in channel order.
    layer = torch.zeros(128, 7, 7)
    layer[100:, 0, 0] = torch.arange(1.0, 29.0)  # channels 100..127 active
    layer[5, 3, 3] = 50.0
    layer[60:64] = 0.001
    fig = plots.plot_feature_maps(images[0], [layer], names=["conv3"])
    shown = np.ma.filled(fig.axes[1].images[0].get_array(), np.nan)
    assert shown[3, 3] == 1  # channel 5 comes first and is scaled to its own maximum


def test_filters_and_bad_weights() -> None:
    net = ConvNet()
    fig = plots.plot_filters(net.features[0].weight)
    assert fig.axes[0].get_title() == "conv1: 32 learned 3x3 filters"
    low, high = fig.axes[0].images[0].get_clim()
    assert low == -high  # white is zero: blue negative, red positive
    with pytest.raises(ValueError, match="first conv layer"):
        plots.plot_filters(net.features[3].weight)  # 32 input channels


def test_training_curves_split_loss_and_accuracy() -> None:
    steps = list(range(0, 500, 10))
    curves = {
        "train/loss": (steps, np.linspace(2, 0.1, 50).tolist()),
        "val/loss": ([99, 199], [0.5, 0.3]),
        "train/acc": (steps, np.linspace(0.1, 0.99, 50).tolist()),
        "val/acc": ([99, 199], [0.9, 0.95]),
    }
    fig = plots.plot_training_curves(curves)
    loss_ax, acc_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        "train/loss (smoothed)",
        "val/loss",
    ]
    assert acc_ax.get_ylabel() == "accuracy" and len(acc_ax.get_lines()) == 3
    only_loss = plots.plot_training_curves({"train/loss": curves["train/loss"]})
    assert only_loss.axes[1].texts[0].get_text() == "no acc logged"


def test_layer_table_derives_the_reference_sizes() -> None:
    rows = layer_table(ConvNet())
    pools = [row.output_shape for row in rows if row.layer.startswith("MaxPool")]
    assert pools == [(32, 14, 14), (64, 7, 7), (128, 3, 3)]  # 28 -> 14 -> 7 -> 3
    assert [row.output_shape for row in rows if row.layer == "Flatten"] == [(1152,)]
    assert sum(row.params for row in rows) == sum(p.numel() for p in ConvNet().parameters())
    fig = plots.plot_layer_table(rows)
    cells = [cell.get_text().get_text() for cell in fig.axes[0].tables[0].get_celld().values()]
    assert "Conv2d(1, 32, 3x3, padding 1)" in cells and "32 x 28 x 28" in cells
    assert "249,162" in cells


def test_layer_table_and_feature_maps_of_a_bf16_network() -> None:
    net = ConvNet().to(torch.bfloat16)  # as with --trainer.precision bf16-true
    assert layer_table(net)[-1].output_shape == (10,)
    maps = feature_maps(net.features, torch.zeros(1, 1, 28, 28, dtype=torch.bfloat16))
    assert maps[0].dtype == torch.float32  # ready to plot


def test_layer_table_leaves_a_training_network_in_training_mode() -> None:
    net = ConvNet(batch_norm=True)  # batch norm refuses one image in training mode
    rows = layer_table(net)
    assert net.training and rows[-1].output_shape == (10,)


def test_render_gives_rgb_pixels() -> None:
    pixels = plots.render(plots.plot_digit_accuracy(torch.full((10,), 0.9), 0.9))
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.shape[1] == 700  # 7 inches at 100 dpi


def scale_points(seeds: int) -> list[scale_plots.ScalePoint]:
    """3 sizes x 2 epochs: accuracy rises with both, time is 1 s per 1,000 images per epoch."""
    spread = 0.001 if seeds > 1 else float("nan")
    return [
        scale_plots.ScalePoint(
            size=size,
            epoch=epoch,
            test_acc=0.95 + 0.01 * epoch + size / 1e7,
            test_acc_std=spread,
            test_loss=0.1 / epoch,
            train_loss=1 / (size * epoch),
            train_loss_std=spread,
            seconds=epoch * size / 1000,
            seconds_std=spread,
        )
        for size in (5_000, 20_000, 60_000)
        for epoch in (1, 2)
    ]


def test_data_scale_has_the_reports_four_panels() -> None:
    fig = scale_plots.plot_data_scale(scale_points(seeds=3))
    time, acc, loss, tradeoff = fig.axes
    assert [ax.get_title()[:3] for ax in fig.axes] == ["(a)", "(b)", "(c)", "(d)"]
    legend = [t.get_text() for t in time.get_legend().get_texts()]
    assert legend[0] == "linear fit: 20.0 s per 10k images for 2 epochs"  # 1 s per 1,000 a epoch
    assert {"1 epoch", "2 epochs"} <= set(legend)
    # accuracy in percent against size, one line per epoch count
    assert list(acc.lines[0].get_xdata()) == [5_000, 20_000, 60_000]
    data_line, _, bars = acc.containers[1].lines  # errorbar's (line, caps, bars) of 2 epochs
    assert data_line.get_ydata()[-1] == pytest.approx(100 * (0.97 + 0.006))
    assert len(bars[0].get_segments()) == 3  # error bars: several seeds
    # one line per size: loss over epochs, accuracy over cumulative time
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["5,000", "20,000", "60,000"]
    assert list(tradeoff.lines[-1].get_xdata()) == [60.0, 120.0]


def test_one_seed_draws_no_error_bars_and_learning_curves() -> None:
    fig = scale_plots.plot_data_scale(scale_points(seeds=1))
    assert not any(len(c.get_segments()) for ax in fig.axes for c in ax.collections)
    curves = scale_plots.plot_learning_curves(scale_points(seeds=1))
    acc, loss = curves.axes
    assert len(acc.containers) == 3 and list(acc.lines[0].get_xdata()) == [1, 2]
    assert list(loss.lines[2].get_ydata()) == pytest.approx([0.1, 0.05])
    with pytest.raises(ValueError, match="no results"):
        scale_plots.plot_learning_curves([])
