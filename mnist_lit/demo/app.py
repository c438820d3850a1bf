"""A web page where you draw a digit and the network reads it; labelled drawings can be saved.

    pip install -e ".[demo]"
    python -m mnist_lit.demo --ckpt_path best        # then open http://127.0.0.1:7860

Draw with the mouse or a finger (the prediction follows every stroke), or upload a photo. The page
shows the predicted digit, the probability of each digit and the 28x28 image the model saw. Pick
the digit you meant and press "Save" to add the image to a collection (``--collection``, default
``data/drawings``) that ``test --data.custom_dir`` and ``predict --data.predict_dir`` read.

Everything the page needs is served by the app itself (Gradio bundles its scripts and fonts), so
it works without internet; the page is only reachable from this machine unless ``--host 0.0.0.0``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from jsonargparse import ArgumentParser
from PIL import Image

from mnist_lit.commands import command_name, fail, parse_or_fail, user_errors
from mnist_lit.constants import CLASS_NAMES
from mnist_lit.data.collection import Collection
from mnist_lit.data.preprocess import ImageError, open_image, preprocess
from mnist_lit.demo.limits import MAX_REQUEST_BYTES, MAX_SECONDS, BodyLimit
from mnist_lit.demo.numbers import NumberActions, number_tab
from mnist_lit.demo.recognise import Recogniser, Recognition
from mnist_lit.errors import MnistLitError
from mnist_lit.models.calibration import NOT_CALIBRATED_NOTE
from mnist_lit.training.checkpoints import add_checkpoint_arguments
from mnist_lit.viz.attributions import attribution_image

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd
    from gradio.components.image_editor import EditorValue

PROG = "mnist_lit.demo"
"""The start of its error messages."""
API_PREDICT = "predict"
"""API name of the reading of a drawing: ``Client(url).predict(editor_value, api_name="/predict")``."""
API_PREDICT_FILE = "predict_file"
"""API name of the reading of an uploaded image file. Only the readings are API endpoints: saving
and clearing are the page's own (Gradio's ``api_visibility="private"``)."""

MAX_PIXELS = 25_000_000
"""Pillow's limit in the demo's process, for any image Gradio decodes itself: one over it is
refused from its header, before any pixel is decoded (``main`` makes Pillow's warning between
once and twice ``MAX_IMAGE_PIXELS`` an error). The canvas has its own, lower limits
(``limits.py``)."""

MAX_FILE_SIZE = "20mb"
"""Largest upload Gradio accepts (a canvas composite or a photo)."""

QUEUE_SIZE = 64
"""Requests waiting at most; more are turned away at once rather than piling up."""

CONCURRENCY = 2
"""Readings served at once: a second user is answered while one upload takes its time."""

LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Addresses only this machine reaches; any other ``--host`` needs a password."""

PASSWORD_VARIABLE = "MNIST_LIT_DEMO_PASSWORD"
"""Environment variable with the page's password (``--password`` wins)."""

INSTALL_HINT = "the demo needs Gradio: pip install -e '.[demo]' (in a clone) or pip install gradio"

CANVAS_SIZE = 400
"""Side of the drawing canvas in pixels (the image the browser sends)."""

BRUSH_RADIUS = 14
"""Brush radius in canvas pixels: strokes about as thick, relative to the digit, as MNIST's."""

PREVIEW_SCALE = 8
"""The 28x28 image is shown enlarged this many times, each pixel a sharp square."""

DRAW_HINT = "Draw a digit on the canvas."

UNSURE_LABEL = "Not sure"
"""Shown in place of the big digit when the reading is unsure (the bars keep the best guess)."""


@dataclass(frozen=True)
class Sample:
    """The image last read, kept for "Save"."""

    original: Image.Image
    """The drawing, or the upload as decoded (upright, at most 1024 pixels a side)."""
    pixels: np.ndarray
    """``(28, 28)`` uint8: what the model saw."""
    saved: Path | None = None
    """Where "Save" stored it, once it has."""


Outputs = tuple[
    dict[str, float] | str | None, "pd.DataFrame | None", Image.Image | None, str, Sample | None
]
"""What the page shows after reading an image: label (the ten probabilities, or ``UNSURE_LABEL``),
bars, 28x28 preview, message, sample."""


class DemoActions:
    """What the page does, without the page: each method answers one event.

    Args:
        recognise: The trained model.
        collection: Where "Save" stores labelled images.

    """

    def __init__(self, recognise: Recogniser, collection: Collection) -> None:
        self.recognise = recognise
        self.collection = collection

    def read_drawing(self, value: dict[str, Any] | None) -> Outputs:
        """Read the canvas (Gradio's sketchpad value); a blank canvas asks for a digit."""
        image = canvas_image(value)
        if image is None:
            return _nothing(DRAW_HINT)
        try:
            result = self.recognise(image)
        except ImageError:
            return _nothing(DRAW_HINT)
        return _shown(result, Sample(image, result.pixels))

    def read_upload(self, path: str | None) -> Outputs:
        """Read an uploaded image file; an unreadable or blank one says why."""
        if path is None:
            return _nothing("Upload a photo or scan of one digit.")
        name = Path(path).name
        try:
            image = open_image(path, max_seconds=MAX_SECONDS)
            pixels = preprocess(image)
        except ImageError as err:
            return _nothing(f"Cannot read {name}: {err}.")
        except OSError as err:
            return _nothing(f"Cannot read {name}: {err.strerror or err}.")
        result = self.recognise.classify(pixels)
        return _shown(result, Sample(image, pixels))

    def save(
        self, sample: Sample | None, label: str | None
    ) -> tuple[str, str, str | None, Sample | None]:
        """Store the last image read under ``label``.

        Returns the message, the new counts, the label selection (cleared once saved, so the
        next drawing is not saved under this one's label by mistake) and the sample (marked
        saved, so a second click does not store it twice).
        """
        if sample is None:
            return "Nothing to save: draw or upload a digit first.", self.counts(), label, sample
        if sample.saved is not None:
            message = (
                f"Already saved as `{self.collection.shown(sample.saved)}`: draw the next digit."
            )
            return message, self.counts(), label, sample
        if label is None or label not in CLASS_NAMES:
            return "Pick the digit the image shows, then press Save.", self.counts(), label, sample
        try:
            path = self.collection.save(sample.original, sample.pixels, int(label))
        except MnistLitError as err:
            return f"Not saved: {err}", self.counts(), label, sample
        shown = self.collection.shown(path)
        return f"Saved as `{shown}`.", self.counts(), None, replace(sample, saved=path)

    def counts(self) -> str:
        """Return a Markdown table of the collection: images per digit, and where it is."""
        counts = self.collection.counts()
        header = "| digit | " + " | ".join(CLASS_NAMES) + " | total |"
        rule = "|---" * (len(CLASS_NAMES) + 2) + "|"
        row = "| images | " + " | ".join(str(counts[d]) for d in counts)
        return (
            f"{header}\n{rule}\n{row} | {sum(counts.values())} |\n\n"
            f"Collection: `{self.collection.shown(self.collection.root)}` (28x28 copies in "
            f"`{self.collection.shown(self.collection.small_root)}`)"
        )


def canvas_image(value: dict[str, Any] | None) -> Image.Image | None:
    """Return the drawing as black ink on white paper (greyscale), or ``None`` if there is none.

    The canvas sends its white paper with the strokes (an opaque image); strokes on a transparent
    background (a canvas without paper) are laid on white, so a saved drawing looks as drawn in
    any image viewer.
    """
    composite = None if value is None else value.get("composite")
    if composite is None:
        return None
    image = composite if isinstance(composite, Image.Image) else Image.fromarray(composite)
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, "white")
        paper.alpha_composite(image.convert("RGBA"))
        image = paper
    return image.convert("L")


def blank_canvas() -> EditorValue:
    """Return the sketchpad's value for white paper, on which the brush is ready to draw."""
    paper = Image.new("RGB", (CANVAS_SIZE, CANVAS_SIZE), "white")
    return {"background": paper, "layers": [], "composite": paper}


def probability_table(probabilities: np.ndarray) -> pd.DataFrame:
    """Return the ten probabilities as the bar chart's data: columns ``digit``, ``probability``."""
    import pandas as pd  # comes with Gradio

    return pd.DataFrame({"digit": list(CLASS_NAMES), "probability": probabilities.astype(float)})


def _shown(result: Recognition, sample: Sample) -> Outputs:
    label: dict[str, float] | str = {
        name: float(p) for name, p in zip(CLASS_NAMES, result.probabilities, strict=True)
    }
    preview = Image.fromarray(result.pixels).resize(
        (28 * PREVIEW_SCALE, 28 * PREVIEW_SCALE), Image.Resampling.NEAREST
    )
    if result.attribution is not None:  # the Grad-CAM map beside it: why it read this digit
        pixels = np.full((28 * PREVIEW_SCALE, 2 * 28 * PREVIEW_SCALE + PREVIEW_SCALE, 3), 255)
        pixels[:, : 28 * PREVIEW_SCALE] = np.asarray(preview.convert("RGB"))
        heat = attribution_image(result.pixels, result.attribution, PREVIEW_SCALE)
        pixels[:, -28 * PREVIEW_SCALE :] = heat
        preview = Image.fromarray(pixels.astype(np.uint8))
    message = f"Read as **{result.digit}** ({result.confidence:.1%} sure)."
    if result.unsure:  # no big best-guess digit: the bars still show every probability
        label = UNSURE_LABEL
        message = (
            f"Not sure: this does not look like a digit I know (best guess "
            f"{result.digit}, {result.confidence:.1%})."
        )
    return label, probability_table(result.probabilities), preview, message, sample


def cleared() -> tuple[Any, ...]:
    """Return a blank canvas, then empty outputs (as ``_nothing``)."""
    return (blank_canvas(), *_nothing(DRAW_HINT))


def _nothing(message: str) -> Outputs:
    return None, None, None, message, None


def build_app(actions: DemoActions, title: str = "mnist_lit: draw a digit") -> gr.Blocks:
    """Lay out the page and connect its events to ``actions``, behind a bounded queue.

    ``main`` also sets Pillow's pixel limit for the demo's process (``MAX_PIXELS``).
    """
    import gradio as gr

    from mnist_lit.demo.canvas import sketchpad

    # no telemetry; files Gradio caches (each stroke's preview, uploads) deleted after an hour
    app = gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600))
    with app:
        gr.Markdown(
            f"# {title}\nDraw one digit, large, in the middle of the canvas: the network reads it "
            "after every stroke. Or upload a photo of a digit on paper."
        )
        sample = gr.State(None)
        with gr.Row():
            with gr.Column():
                with gr.Tab("Draw"):
                    canvas = sketchpad(
                        blank_canvas(), (CANVAS_SIZE, CANVAS_SIZE), "Canvas", "canvas", BRUSH_RADIUS
                    )
                    clear = gr.Button("Clear", elem_id="clear")
                with gr.Tab("Upload a photo"):
                    upload = gr.File(
                        label="Image of one digit",
                        file_types=["image"],
                        type="filepath",
                        elem_id="upload",
                    )
            with gr.Column():
                message = gr.Markdown(DRAW_HINT, elem_id="message")
                label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
                bars = gr.BarPlot(
                    x="digit",
                    y="probability",
                    y_lim=[0, 1],
                    sort="x",
                    label="Probability of each digit",
                    height=220,
                    elem_id="probabilities",
                )
                preview = gr.Image(
                    label="What the model saw (28x28) and why (Grad-CAM: red for the digit read)",
                    type="pil",
                    interactive=False,
                    height=28 * PREVIEW_SCALE,
                    elem_id="preview",
                )
        with gr.Row():
            digit = gr.Radio(list(CLASS_NAMES), label="This image shows the digit", elem_id="label")
            save = gr.Button("Save to the collection", variant="primary", elem_id="save")
        saved = gr.Markdown(elem_id="saved")
        counts = gr.Markdown(actions.counts(), elem_id="counts")

        shown = [label, bars, preview, message, sample]
        canvas.input(  # after each stroke
            actions.read_drawing,
            canvas,
            shown,
            trigger_mode="always_last",
            show_progress="hidden",
            api_name=API_PREDICT,  # stable names for scripts (Gradio's default: the handler's)
        )
        upload.change(
            actions.read_upload, upload, shown, show_progress="hidden", api_name=API_PREDICT_FILE
        )
        # the canvas's own bin icon clears it to no paper and no brush: both start again on paper
        for event in (clear.click, canvas.clear):
            event(cleared, None, [canvas, *shown], show_progress="hidden", api_visibility="private")
        save.click(
            actions.save, [sample, digit], [saved, counts, digit, sample], api_visibility="private"
        )
        app.load(actions.counts, None, counts, api_visibility="private")  # saved from other tabs
        with gr.Tab("Write a number"):  # a whole number on a wide canvas (demo/numbers.py)
            number_tab(NumberActions(actions.recognise), BRUSH_RADIUS)
    app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return app


def build_parser() -> ArgumentParser:
    """Build the command line: checkpoint, collection folder, address."""
    parser = ArgumentParser(
        prog=command_name("demo", "mnist_lit.demo"),
        description="Start a web page where you draw or upload a digit and a trained model reads "
        "it; labelled images can be saved into a collection for test and predict.",
        exit_on_error=False,
    )
    add_checkpoint_arguments(parser, default="best")
    parser.add_argument(
        "--collection",
        type=str,
        default="data/drawings",
        help="Folder where Save stores images, as <digit>/<timestamp>.png (the 28x28 copies go to "
        "the sibling folder <name>_28x28/). Use it with test --data.custom_dir.",
    )
    parser.add_argument(
        "--host",
        type=str,
        default="127.0.0.1",
        help="Address to listen on; 0.0.0.0 makes the page reachable from other machines.",
    )
    parser.add_argument(
        "--password",
        type=str | None,
        default=None,
        help=f"Password of the page (user name: mnist), required with a --host other machines "
        f"reach; default: the environment variable {PASSWORD_VARIABLE}, which keeps it out of "
        "the shell's history.",
    )
    parser.add_argument(
        "--port",
        type=int | None,
        default=None,
        help="Port to listen on; default: 7860, or the next free one.",
    )
    return parser


def main(args: Sequence[str] | None = None) -> None:
    """Parse the command line and serve the page until Ctrl-C; mistakes are one-line errors."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # the URL shows at once, also in a pipe
    parser = build_parser()
    config = parse_or_fail(parser, args, PROG)
    try:
        import gradio

        gradio.Blocks  # noqa: B018  # not just the empty folder a partial uninstall leaves
    except (ImportError, AttributeError):
        fail(PROG, INSTALL_HINT)

    password = config.password or os.environ.get(PASSWORD_VARIABLE) or None
    if config.host not in LOOPBACK and password is None:
        fail(
            PROG,
            f"--host {config.host} lets other machines reach the page, where anyone could save "
            f"images into the collection: set a password with {PASSWORD_VARIABLE}=... (or "
            "--password)",
        )
    with user_errors(PROG):
        recognise = Recogniser.from_checkpoint(config.ckpt_path, config.logs)
        actions = DemoActions(recognise, Collection(config.collection))
    print(f"Model: {recognise.path}", flush=True)
    if recognise.calibration is None:
        print(f"Note: {NOT_CALIBRATED_NOTE}", flush=True)
    print(f"Collection: {actions.collection.root}", flush=True)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # for the whole process: Gradio decodes what it receives
    warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused from the limit on
    app = build_app(actions)
    try:
        serve(app, config.host, config.port, password)
    except OSError as err:  # a port in use, an address this machine does not have
        fail(PROG, f"cannot serve on {config.host}:{config.port or 'the default port'}: {err}")


def serve(app: gr.Blocks, host: str, port: int | None, password: str | None, **kwargs: Any) -> None:
    """Serve the page with the demo's limits on uploads and requests (``limits.py``).

    Args:
        app: The page, from ``build_app``.
        host: Address to listen on.
        port: Port to listen on; ``None``: 7860 or the next free one.
        password: The page's password (user name ``mnist``); ``None``: no login.
        **kwargs: Passed on to Gradio's ``launch`` (e.g. ``prevent_thread_lock=True``).

    """
    from starlette.middleware import Middleware  # comes with Gradio

    app.launch(
        server_name=host,
        server_port=port,
        show_error=True,
        inbrowser=False,
        max_file_size=MAX_FILE_SIZE,
        auth=None if password is None else ("mnist", password),
        app_kwargs={"middleware": [Middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)]},
        **kwargs,
    )


def entry_point() -> None:
    """Console script ``mnist-lit-demo``."""
    main()
