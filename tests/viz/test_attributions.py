"""The attribution figure and the demo's map picture: red where the map speaks for the digit."""

from __future__ import annotations

import numpy as np
import torch

from mnist_lit.viz.attributions import attribution_image, plot_attributions
from mnist_lit.viz.plots import render


def test_the_figure_shows_each_image_beside_its_maps() -> None:
    images = torch.full((3, 1, 28, 28), -0.4242)
    images[:, :, 8:20, 12:16] = 2.8  # a bar, a "1"
    maps = torch.zeros(3, 28, 28)
    maps[:, 8:14, 12:16] = 1.0  # for the digit: the bar's top half
    fig = plot_attributions(
        images, {"IG": maps, "Occlusion": -maps}, torch.tensor([1, 1, 7]),
        torch.tensor([0.9996, 0.8, 0.6]), torch.tensor([1, 7, 7]), torch.tensor([1, 1, 1]),
        title="t",
    )  # fmt: skip
    assert len(fig.axes) == 3 * 3
    assert fig.get_supxlabel().startswith("red: for the digit explained, blue: against it")
    titles = [ax.get_title() for ax in fig.axes]
    assert (
        titles[:3] == ["read 1 (>99.9%)", "IG", "Occlusion"] and titles[6] == "read 7 (60%), true 1"
    )
    assert [fig.axes[3 * r].get_ylabel() for r in range(3)] == ["why 1", "why not 7?", "why 7"]
    pixels = render(fig).astype(int)
    reds = pixels[..., 0] > pixels[..., 2] + 50
    blues = pixels[..., 2] > pixels[..., 0] + 50
    assert reds.sum() > 100 and blues.sum() > 100  # IG's red bar, Occlusion's blue one


def test_the_demo_picture_is_red_for_blue_against_grey_elsewhere() -> None:
    digit = np.zeros((28, 28), np.uint8)
    digit[5:23, 13:15] = 255
    heat = np.zeros((28, 28))
    heat[5:10, 13:15], heat[18:23, 13:15] = 2.0, -1.0
    picture = attribution_image(digit, heat, scale=4).astype(int)
    assert picture.shape == (112, 112, 3)
    red, blue, grey, black = (
        picture[6 * 4, 13 * 4],
        picture[20 * 4, 13 * 4],
        picture[14 * 4, 13 * 4],
        picture[0, 0],
    )
    assert red[0] > red[2] + 50 and blue[2] > blue[0] + 50 and abs(grey[0] - grey[2]) < 5
    assert grey[0] > black[0] == 0  # the digit shows faintly where the map is empty
