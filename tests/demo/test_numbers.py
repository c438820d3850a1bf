"""The demo's "Write a number" tab: a wide drawing read digit by digit, each digit boxed."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist_lit.demo.numbers import CANVAS_HEIGHT, CANVAS_WIDTH, NUMBER_HINT, NumberActions
from mnist_lit.demo.recognise import Recogniser
from tests.numbers.helpers import FIXTURE, written


def test_a_drawn_number_is_read_and_each_digit_boxed() -> None:
    actions = NumberActions(Recogniser.from_checkpoint(FIXTURE))
    drawing = Image.new("RGBA", (CANVAS_WIDTH, CANVAS_HEIGHT), "white")
    drawing.paste(written("306", 20, height=160).convert("RGBA"), (40, 30))
    shown, message = actions.read({"composite": drawing})
    assert "**306**" in message
    assert shown is not None and shown.size == drawing.size
    pixels = np.asarray(shown)
    boxes = (pixels[..., 2] > 150) & (pixels[..., 0] < 100)  # blue box lines
    assert boxes.any()
    blank = Image.new("RGBA", (CANVAS_WIDTH, CANVAS_HEIGHT), "white")
    assert actions.read({"composite": blank}) == (None, NUMBER_HINT)
    assert actions.read(None) == (None, NUMBER_HINT)
