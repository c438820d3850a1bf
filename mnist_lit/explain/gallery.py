"""The attribution figures of the report and of TensorBoard: right digits and confident mistakes.

    python -m mnist_lit.report --ckpt_path best   # attributions.png, attributions_mistakes.png

``attributions``: the first correctly read image of each digit, with its maps for the digit read.
``attributions_mistakes``: the most confident mistakes, each twice: why the model read what it
read, and why it did not read the true digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from mnist_lit.constants import MEAN, NUM_CLASSES, STD
from mnist_lit.explain.attributions import METHOD_TITLES, METHODS, Explainer, Method
from mnist_lit.viz.attributions import plot_attributions
from mnist_lit.viz.plots import confident_mistakes


@dataclass(frozen=True)
class Examples:
    """Which images the figures explain, as indices into the evaluated images."""

    right: Tensor
    """The first correctly read image of each digit that has one, in digit order."""
    mistakes: Tensor
    """The most confident mistakes, most confident first."""


def choose_examples(labels: Tensor, probabilities: Tensor, mistakes: int = 5) -> Examples:
    """Pick the first right image of each digit and the ``mistakes`` most confident wrong ones.

    Args:
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` the model's probabilities.
        mistakes: Most mistakes to pick.

    """
    labels = labels.cpu()
    right = probabilities.detach().cpu().argmax(dim=1) == labels
    first = [
        int(hits[0]) for d in range(NUM_CLASSES) if len(hits := ((labels == d) & right).nonzero())
    ]
    _, worst = confident_mistakes(labels, probabilities, mistakes)
    return Examples(torch.tensor(first, dtype=torch.long), worst)


def attribution_figures(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    probabilities: Tensor,
    mean: float = MEAN,
    std: float = STD,
    mistakes: int = 5,
    methods: Sequence[Method] = METHODS,
) -> dict[str, Figure]:
    """Explain right digits of each class and the most confident mistakes, with every method.

    Args:
        net: The plain network (``ConvNet``), on any device.
        images: ``(N, 1, 28, 28)`` normalised images (on any device).
        labels: ``(N,)`` true digits.
        probabilities: ``(N, 10)`` the model's probabilities (calibrated or not: the digit read
            is their largest).
        mean: Normalisation mean of the images.
        std: Normalisation standard deviation of the images.
        mistakes: Most mistakes to explain; 0 leaves their figure out.
        methods: The methods, one column each.

    Returns:
        ``attributions`` and, when there are mistakes, ``attributions_mistakes``.

    """
    chosen = choose_examples(labels, probabilities, mistakes)
    explain = Explainer(net, mean, std)
    confidence, predicted = probabilities.detach().float().cpu().max(dim=1)
    labels = labels.cpu()
    figures = {}
    for name, index, twice in (
        ("attributions", chosen.right, False),
        ("attributions_mistakes", chosen.mistakes, True),
    ):
        if not len(index):
            continue
        if twice:  # each mistake: why the digit read, then why not the true digit
            index = index.repeat_interleave(2)
            targets = torch.stack([predicted[index[::2]], labels[index[::2]]], dim=1).flatten()
        else:
            targets = predicted[index]
        batch = images[index.to(images.device)]
        maps = {METHOD_TITLES[m]: explain(batch, m, targets) for m in methods}
        title = (
            "Why the model read each digit (first right image of each digit)"
            if not twice
            else "The most confident mistakes: why the digit read, why not the true one"
        )
        figures[name] = plot_attributions(
            batch, maps, predicted[index], confidence[index], targets, labels[index],
            mean, std, title,
        )  # fmt: skip
    return figures
