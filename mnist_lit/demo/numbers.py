"""The demo's wide canvas: write a whole number, see each digit's box and reading.

    python -m mnist_lit.demo --ckpt_path best   # the "Write a number" tab

The drawing is read as ``predict --data.read number`` reads a file (``mnist_lit/numbers``), with
the demo's network; the page shows the drawing with a box round each digit and its reading above
it (red where the digit is unsure), and the number as text with each digit's confidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from mnist_lit.data.preprocess import ImageError
from mnist_lit.demo.recognise import Recogniser
from mnist_lit.numbers.reader import NumberReading

if TYPE_CHECKING:
    from gradio.components.image_editor import EditorValue

CANVAS_WIDTH, CANVAS_HEIGHT = 1200, 300
"""The wide canvas, in pixels: room for about six digits written as large as on the digit canvas."""

NUMBER_HINT = "Write a number on the wide canvas, digits side by side."


class NumberActions:
    """What the "Write a number" tab does, without the page.

    Args:
        recognise: The demo's trained model; its network, normalisation and calibration read
            each candidate digit.

    """

    def __init__(self, recognise: Recogniser) -> None:
        self.reader = recognise.number_reader()

    def read(self, value: dict[str, Any] | None) -> tuple[Image.Image | None, str]:
        """Read the wide canvas: the drawing with each digit boxed and labelled, and a message."""
        composite = None if value is None else value.get("composite")
        if composite is None:
            return None, NUMBER_HINT
        image = composite if isinstance(composite, Image.Image) else Image.fromarray(composite)
        if image.mode in ("RGBA", "LA") or "transparency" in image.info:
            paper = Image.new("RGBA", image.size, "white")
            paper.alpha_composite(image.convert("RGBA"))
            image = paper
        image = image.convert("RGB")
        try:
            reading = self.reader(image)
        except ImageError:
            return None, NUMBER_HINT
        return boxed(image, reading), describe(reading)


def boxed(image: Image.Image, reading: NumberReading) -> Image.Image:
    """Return a copy of ``image`` with each digit's box and reading drawn (red: unsure)."""
    shown = image.convert("RGB")
    draw = ImageDraw.Draw(shown)
    for digit, box, unsure in zip(reading.number, reading.boxes, reading.unsure, strict=True):
        colour = (220, 30, 30) if unsure else (20, 110, 220)
        draw.rectangle(box, outline=colour, width=3)
        draw.text((box[0] + 2, max(0, box[1] - 14)), digit, fill=colour)
    return shown


def describe(reading: NumberReading) -> str:
    """One line of Markdown: the number, each digit's confidence, and whether to trust it."""
    digits = ", ".join(
        f"{d} {c:.0%}{' (unsure)' if u else ''}"
        for d, c, u in zip(reading.number, reading.confidences, reading.unsure, strict=True)
    )
    verdict = "Not sure of every digit: check the red boxes." if reading.is_unsure else ""
    return f"Read as **{reading.number}** ({digits}). {verdict}".strip()


def blank_wide_canvas() -> EditorValue:
    """Return the wide sketchpad's value: white paper, the brush ready."""
    paper = Image.new("RGB", (CANVAS_WIDTH, CANVAS_HEIGHT), "white")
    return {"background": paper, "layers": [], "composite": paper}


def number_tab(actions: NumberActions, brush_radius: int) -> None:
    """Lay out the tab's wide canvas, boxed reading and message inside the current Blocks."""
    import gradio as gr

    from mnist_lit.demo.canvas import sketchpad

    canvas = sketchpad(
        blank_wide_canvas(),
        (CANVAS_WIDTH, CANVAS_HEIGHT),
        "Wide canvas",
        "number-canvas",
        brush_radius,
    )
    clear = gr.Button("Clear", elem_id="number-clear")
    message = gr.Markdown(NUMBER_HINT, elem_id="number-message")
    shown = gr.Image(
        label="Each digit's box and reading", type="pil", interactive=False, elem_id="number-boxes"
    )
    canvas.input(
        actions.read,
        canvas,
        [shown, message],
        trigger_mode="always_last",
        show_progress="hidden",
        api_name="predict_number",
    )
    for event in (clear.click, canvas.clear):
        event(
            lambda: (blank_wide_canvas(), None, NUMBER_HINT),
            None,
            [canvas, shown, message],
            show_progress="hidden",
            api_visibility="private",
        )
