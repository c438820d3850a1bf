"""Figures that explain the data, the training and the network: tensors in, matplotlib Figure out.

    python -m mnist_lit.report --ckpt_path best   # writes every figure below as a PNG

Every function is pure: it needs no Trainer, keeps no state and never touches pyplot, so it is safe
in DataLoader workers, threads and headless servers. ``render`` turns a figure into pixels (for
TensorBoard); ``Figure.savefig`` writes a file.

Images are passed as the network sees them, normalised with ``mean`` and ``std``; they are shown
undone, with 0 as black and 1 as white, so a digit looks as it does in MNIST (white on black).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from torch import Tensor

from mnist_lit.constants import CLASS_NAMES, IMAGE_SIZE, MEAN, NUM_CLASSES, STD
from mnist_lit.viz.introspect import LayerRow

RIGHT_COLOUR = "green"
"""Title colour of a correct prediction."""

WRONG_COLOUR = "red"
"""Title colour of a wrong prediction."""

Curve = tuple[Sequence[float], Sequence[float]]
"""``(steps, values)`` of one logged scalar."""


def render(fig: Figure) -> np.ndarray:
    """Draw ``fig`` and return its pixels as an ``(H, W, 3)`` uint8 array (e.g. for TensorBoard)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels: np.ndarray = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    return pixels


def plot_samples(
    images: Tensor, labels: Tensor, mean: float = MEAN, std: float = STD, per_digit: int = 8
) -> Figure:
    """Show the first ``per_digit`` images of each digit, one row per digit.

    Args:
        images: ``(N, 1, 28, 28)`` or ``(N, 28, 28)`` normalised images.
        labels: ``(N,)`` digit of each image.
        mean: Normalisation mean the images were made with.
        std: Normalisation standard deviation the images were made with.
        per_digit: Images per row; a digit with fewer leaves its row short.

    """
    pixels = _pixels(images, mean, std)
    labels_np = labels.cpu().numpy()
    size = pixels.shape[-1]
    rows = []
    for digit in range(NUM_CLASSES):
        chosen = pixels[labels_np == digit][:per_digit]
        row = np.full((per_digit, size, size), np.nan)
        row[: len(chosen)] = chosen
        rows.append(row)
    grid = _montage(np.concatenate(rows), columns=per_digit)
    fig = Figure(figsize=(0.55 * per_digit + 0.6, 0.55 * NUM_CLASSES + 0.5), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, cmap=_cmap("gray"), vmin=0, vmax=1, interpolation="nearest")
    step = size + 1
    ax.set_yticks([step * d + size / 2 for d in range(NUM_CLASSES)], CLASS_NAMES)
    ax.set_xticks([])
    ax.tick_params(length=0)
    ax.set_ylabel("digit")
    ax.set_title(f"First {per_digit} images of each digit")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig


def plot_predictions(
    images: Tensor,
    labels: Tensor,
    probabilities: Tensor,
    mean: float = MEAN,
    std: float = STD,
    columns: int = 8,
    title: str | None = None,
) -> Figure:
    """Show images with the predicted digit and its probability; green when right, red when wrong.

    Args:
        images: ``(N, 1, 28, 28)`` or ``(N, 28, 28)`` normalised images.
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` class probabilities from the model.
        mean: Normalisation mean the images were made with.
        std: Normalisation standard deviation the images were made with.
        columns: Images per row.
        title: Figure title; default says how many of the images are right.

    """
    pixels = _pixels(images, mean, std)
    confidence, predicted = probabilities.detach().float().cpu().max(dim=1)
    truth = labels.cpu()
    count = len(pixels)
    if title is None:
        right = int((predicted == truth).sum())
        title = f"Predictions: {right} of {count} right (green), {count - right} wrong (red)"
    # One image with a band for the labels above each tile: far faster to draw than an axes
    # per image (0.1 s against 1 s for 32 images), which matters after every validation epoch.
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    size = pixels.shape[-1] if count else IMAGE_SIZE
    band, gap = 10, 2  # label band above each tile and gap between tiles, in grid pixels
    cell_w, cell_h = size + gap, band + size + gap
    grid = np.full((rows * cell_h, columns * cell_w), np.nan)
    inch = 0.95 / size  # a tile is 0.95 inch wide: two lines of 8-point text fit in the band
    height = rows * cell_h * inch
    fig = Figure(figsize=(columns * cell_w * inch, height + 0.35))
    ax = fig.add_axes((0, 0, 1, height / (height + 0.35)))
    fig.suptitle(title, y=1 - 0.05 / (height + 0.35), va="top", fontsize=11)
    for i in range(count):
        r, c = divmod(i, columns)
        top, left = r * cell_h + band, c * cell_w
        grid[top : top + size, left : left + size] = pixels[i]
        pred, true = int(predicted[i]), int(truth[i])
        text = f"{pred} ({_confidence(float(confidence[i]))})"
        text += "" if pred == true else f"\ntrue {true}"
        colour = RIGHT_COLOUR if pred == true else WRONG_COLOUR
        ax.text(left + size / 2, top - 1, text, ha="center", va="bottom", color=colour, fontsize=8)
    ax.imshow(grid, cmap=_cmap("gray"), vmin=0, vmax=1, interpolation="nearest", aspect="equal")
    ax.set_axis_off()
    if count == 0:
        ax.text(0.5, 0.5, "no images", ha="center", va="center", transform=ax.transAxes)
    return fig


def confident_mistakes(labels: Tensor, probabilities: Tensor, most: int) -> tuple[Tensor, Tensor]:
    """Return the indices of every mistake, and of the ``most`` most confident ones in order.

    Args:
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` class probabilities from the model.
        most: Most mistakes to pick.

    """
    confidence, predicted = probabilities.detach().float().cpu().max(dim=1)
    wrong = (predicted != labels.cpu()).nonzero().flatten()
    return wrong, wrong[confidence[wrong].argsort(descending=True, stable=True)][:most]


def plot_misclassified(
    images: Tensor,
    labels: Tensor,
    probabilities: Tensor,
    mean: float = MEAN,
    std: float = STD,
    max_images: int = 32,
    columns: int = 8,
    title: str | None = None,
) -> Figure:
    """Show only the wrongly predicted images, the most confidently wrong first.

    Args:
        images: ``(N, 1, 28, 28)`` or ``(N, 28, 28)`` normalised images (right and wrong ones).
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` class probabilities from the model.
        mean: Normalisation mean the images were made with.
        std: Normalisation standard deviation the images were made with.
        max_images: Most images to show.
        columns: Images per row.
        title: Figure title; default counts the mistakes among the images given.

    """
    wrong, worst = confident_mistakes(labels, probabilities, max_images)
    title = title or (
        f"Misclassified: {len(wrong):,} of {len(labels):,}, most confident first"
        + (f" (first {len(worst)} shown)" if len(worst) < len(wrong) else "")
        if len(wrong)
        else f"Misclassified: none of {len(labels):,}"
    )
    return plot_predictions(
        images[worst], labels[worst], probabilities[worst], mean, std, columns, title
    )


def plot_digit_accuracy(
    per_digit: Tensor, overall: float, title: str = "Accuracy per digit"
) -> Figure:
    """Bar chart of each digit's accuracy with its value on the bar, and the overall accuracy as a line.

    Args:
        per_digit: ``(10,)`` accuracy of each digit in [0, 1] (NaN for a digit with no images).
        overall: Accuracy over all images in [0, 1].
        title: Axes title.

    """
    values = 100 * per_digit.detach().float().cpu().numpy()
    lowest = float(np.nanmin(values)) if np.isfinite(values).any() else 0.0
    bottom = max(0.0, np.floor(min(lowest, 100 * overall)) - 2)  # zoom in on the differences
    top = 100 + 0.03 * (100 - bottom)
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_axes((0.11, 0.14, 0.87, 0.78))  # fixed: drawn after every validation epoch
    ax.bar(range(NUM_CLASSES), np.nan_to_num(values, nan=0.0), color="tab:blue", zorder=2)
    ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES)
    ax.set_ylim(bottom, top)
    # Each value inside the top of its bar; above a bar too short to hold it; "n/a" for a digit
    # without images. The overall line runs behind the bars, so it never crosses a value.
    span = top - bottom
    for x, value in enumerate(values):
        if np.isnan(value):
            ax.text(x, bottom + 0.02 * span, "n/a", ha="center", va="bottom", fontsize=8)
        elif value - bottom < 0.12 * span:
            ax.text(
                x,
                max(value, bottom) + 0.01 * span,
                f"{value:.2f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        else:
            ax.text(
                x,
                value - 0.015 * span,
                f"{value:.2f}",
                ha="center",
                va="top",
                fontsize=8,
                color="white",
                zorder=3,
            )
    ax.axhline(
        100 * overall,
        color="tab:orange",
        linestyle="--",
        zorder=1,
        label=f"all digits: {100 * overall:.2f}%",
    )
    ax.set_xlabel("digit")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def plot_confusion_matrix(confmat: Tensor, normalize: bool = False) -> Figure:
    """Show the confusion matrix with every cell's value; rows are true digits, columns predicted.

    Colours follow a square-root-like scale so the few errors stand out beside the diagonal.

    Args:
        confmat: ``(10, 10)`` counts; ``confmat[t, p]`` images of digit ``t`` predicted as ``p``.
        normalize: Show each row as percentages of its digit's images instead of counts.

    """
    counts = confmat.detach().cpu().double().numpy()
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(100 * counts, totals, out=np.zeros_like(counts), where=totals > 0)
        labels = [[f"{v:.1f}" if v else "0" for v in row] for row in values]
    else:
        values = counts
        labels = [[f"{int(v):,d}" for v in row] for row in values]
    # Fixed positions, not a layout engine: this figure is drawn after every validation epoch,
    # and constrained layout would double its drawing time.
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_axes((0.1, 0.09, 0.72, 0.84))
    norm = PowerNorm(gamma=0.4, vmin=0, vmax=max(float(values.max()), 1e-9))
    image = ax.imshow(values, cmap="Blues", norm=norm)
    colorbar_ax = fig.add_axes((0.85, 0.17, 0.03, 0.68))
    fig.colorbar(image, cax=colorbar_ax, label="% of the true digit" if normalize else "images")
    dark = norm(values) > 0.6
    for (t, p), text in np.ndenumerate(np.array(labels, dtype=object)):
        colour = "white" if dark[t, p] else ("0.6" if values[t, p] == 0 else "black")
        ax.text(p, t, text, ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES)
    ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title("Confusion matrix" + (" (% of each true digit)" if normalize else " (images)"))
    return fig


def plot_feature_maps(
    image: Tensor,
    maps: Sequence[Tensor],
    names: Sequence[str] | None = None,
    max_channels: int = 32,
    mean: float = MEAN,
    std: float = STD,
) -> Figure:
    """Show one image and what each conv layer makes of it: edges, then parts, then whole digits.

    A layer with more than ``max_channels`` channels shows its most active ones (highest mean
    activation for this image), in channel order. Each channel is scaled to its own range.

    Args:
        image: ``(1, 28, 28)`` or ``(28, 28)`` normalised image.
        maps: One ``(C, H, W)`` (or ``(1, C, H, W)``) activation map per conv layer.
        names: Layer names for the titles; default ``conv1``, ``conv2``, ...
        max_channels: Most channels to show per layer.
        mean: Normalisation mean the image was made with.
        std: Normalisation standard deviation the image was made with.

    """
    names = list(names) if names is not None else [f"conv{i + 1}" for i in range(len(maps))]
    columns = 8
    fig = Figure(figsize=(8.5, 1.6 + 1.35 * sum(_rows(m, max_channels, columns) for m in maps)))
    fig.set_layout_engine("constrained")
    heights = [1.4] + [_rows(m, max_channels, columns) for m in maps]
    subfigs = fig.subfigures(len(maps) + 1, 1, height_ratios=heights, squeeze=False)[:, 0]
    ax = subfigs[0].add_subplot()
    ax.imshow(_pixels(image, mean, std).squeeze(), cmap=_cmap("gray"), vmin=0, vmax=1)
    ax.set_title("input image", fontsize=10)
    ax.set_axis_off()
    for subfig, layer_map, name in zip(subfigs[1:], maps, names, strict=True):
        activations = layer_map.detach().float().cpu().reshape(-1, *layer_map.shape[-2:]).numpy()
        total = len(activations)
        chosen = np.arange(total)
        if total > max_channels:
            chosen = np.sort(
                np.argsort(-activations.mean(axis=(1, 2)), kind="stable")[:max_channels]
            )
        tiles = activations[chosen]
        low = tiles.min(axis=(1, 2), keepdims=True)
        span = tiles.max(axis=(1, 2), keepdims=True) - low
        tiles = np.divide(tiles - low, span, out=np.zeros_like(tiles), where=span > 0)
        ax = subfig.add_subplot()
        ax.imshow(
            _montage(tiles, columns), cmap=_cmap("viridis"), vmin=0, vmax=1, interpolation="nearest"
        )
        size = f"{tiles.shape[1]}x{tiles.shape[2]}"
        which = (
            f"all {total} channels"
            if total == len(chosen)
            else f"{len(chosen)} most active of {total} channels"
        )
        ax.set_title(f"{name}: {which}, {size} each", fontsize=10)
        ax.set_axis_off()
    return fig


def plot_filters(weight: Tensor, name: str = "conv1") -> Figure:
    """Show the learned kernels of a conv layer with one input channel, blue negative, red positive.

    Args:
        weight: ``(C, 1, kH, kW)`` weights of the first conv layer.
        name: Layer name for the title.

    """
    if weight.dim() != 4 or weight.shape[1] != 1:
        raise ValueError(
            f"expected (C, 1, kH, kW) weights of a first conv layer, got {tuple(weight.shape)}"
        )
    kernels = weight.detach().float().cpu()[:, 0].numpy()
    grid = _montage(kernels, columns=8)
    limit = float(np.abs(kernels).max()) or 1.0
    width = 6.0  # inches of the filters; the colour bar and title come on top
    fig = Figure(figsize=(width + 1.2, width * grid.shape[0] / grid.shape[1] + 0.6))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap=_cmap("RdBu_r"), vmin=-limit, vmax=limit, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="weight")
    kh, kw = kernels.shape[1:]
    ax.set_title(f"{name}: {len(kernels)} learned {kh}x{kw} filters")
    ax.set_axis_off()
    return fig


def plot_training_curves(curves: Mapping[str, Curve], title: str = "Training curves") -> Figure:
    """Plot loss and accuracy against the training step, for training and validation.

    Series whose name contains ``loss`` go to the left panel, ``acc`` to the right one. Per-step
    series (``train/loss``) are drawn faint with a smoothed line over them; per-epoch ones (names
    with ``epoch``, or ``val/...``) as lines with markers.

    Args:
        curves: Logged scalars by name, e.g. ``{"train/loss": (steps, values), "val/acc": ...}``.
        title: Figure title.

    """
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    fig.suptitle(title)
    panels = dict(zip(("loss", "acc"), fig.subplots(1, 2), strict=True))
    for name, (steps, values) in sorted(curves.items()):
        kind = "loss" if "loss" in name else "acc" if "acc" in name else None
        if kind is None or not len(steps):
            continue
        ax = panels[kind]
        x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        if "epoch" in name or name.startswith(("val/", "test/")):
            ax.plot(x, y, marker="o", markersize=4, label=name)
        else:
            (line,) = ax.plot(x, y, alpha=0.25, linewidth=0.8)
            ax.plot(x, _smooth(y), color=line.get_color(), label=f"{name} (smoothed)")
    for kind, ax in panels.items():
        ax.set_xlabel("training step")
        ax.set_ylabel("cross-entropy loss" if kind == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no {kind} logged", ha="center", va="center", transform=ax.transAxes)
    return fig


def plot_layer_table(rows: Sequence[LayerRow], title: str = "Output size of each layer") -> Figure:
    """Draw the network as a table: layer, output shape per image, parameters.

    Args:
        rows: From ``introspect.layer_table``.
        title: Figure title.

    """
    cells = [[row.name, row.layer, row.shape, f"{row.params:,d}"] for row in rows]
    cells.append(["", "total", "", f"{sum(row.params for row in rows):,d}"])
    fig = Figure(figsize=(7.5, 0.45 + 0.24 * (len(cells) + 1)))
    ax = fig.add_axes((0.01, 0.01, 0.98, 1 - 0.45 / fig.get_figheight()))
    ax.set_axis_off()
    fig.suptitle(title, y=1 - 0.06 / fig.get_figheight(), va="top")
    table = ax.table(
        cells,
        colLabels=["name", "layer", "output (C x H x W)", "parameters"],
        colLoc="left",
        cellLoc="left",
        bbox=Bbox.from_bounds(0, 0, 1, 1),
        colWidths=[0.16, 0.42, 0.24, 0.18],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("0.85")
        if row == 0:
            cell.set_text_props(fontweight="bold")
    return fig


def _pixels(images: Tensor, mean: float, std: float) -> np.ndarray:
    """Undo the normalisation: ``(..., 28, 28)`` in [0, 1] as a float numpy array."""
    pixels = images.detach().float().cpu().numpy() * std + mean
    if pixels.ndim == 4:
        pixels = pixels[:, 0]
    return np.clip(pixels, 0.0, 1.0)


def _montage(tiles: np.ndarray, columns: int) -> np.ndarray:
    """Lay ``(N, H, W)`` tiles out in rows of ``columns``, one NaN pixel (drawn white) between."""
    count, height, width = tiles.shape
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    grid = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[
            r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
        ] = tile
    return grid


def _rows(layer_map: Tensor, max_channels: int, columns: int) -> int:
    return -(-min(layer_map.shape[-3], max_channels) // columns)


def _smooth(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """TensorBoard-style exponential moving average, debiased at the start."""
    out = np.empty_like(values)
    average = 0.0
    for i, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        out[i] = average / (1 - weight ** (i + 1))
    return out


def _confidence(probability: float) -> str:
    """``97%``, ``99.4%``, ``>99.9%``: whole percent unless that would round up to 100%."""
    if probability >= 0.999:
        return ">99.9%"
    return f"{100 * probability:.1f}%" if probability >= 0.99 else f"{100 * probability:.0f}%"


def _cmap(name: str) -> Colormap:
    """Return a copy of colormap ``name`` that draws NaN (the gaps of a montage) white."""
    return colormaps[name].with_extremes(bad="white")
