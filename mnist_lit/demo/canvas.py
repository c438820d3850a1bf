"""The drawing canvas: Gradio's image editor, with the demo's limits checked before it decodes.

Gradio decodes every image a canvas sends (background, each layer, composite) before the event's
function runs, so the limits of ``limits.py`` are checked in the component's ``preprocess``, from
the files' headers. Imported only with Gradio (``build_app``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from gradio.components.image_editor import EditorData

from mnist_lit.data.preprocess import ImageError
from mnist_lit.demo.limits import check_canvas_image, check_layers


def sketchpad(
    value: Any, size: tuple[int, int], label: str, elem_id: str, brush_radius: int
) -> gr.ImageEditor:
    """Make a canvas to draw on in black: no upload, one layer, the limits of ``limits.py``.

    Args:
        value: Its blank value (white paper, ``{"background", "layers", "composite"}``).
        size: Its width and height in pixels.
        label: Its label on the page.
        elem_id: Its element id (the browser test finds it by it).
        brush_radius: The brush's radius in canvas pixels.

    """
    brush = gr.Brush(default_size=brush_radius, colors=["#000000"], color_mode="fixed")
    canvas = gr.ImageEditor(
        value=value,
        sources=(),
        label=label,
        type="pil",
        image_mode="RGBA",
        format="png",
        canvas_size=size,
        fixed_canvas=True,
        brush=brush,
        layers=False,
        transforms=(),
        elem_id=elem_id,
    )
    return limit_canvas(canvas)


def limit_canvas(canvas: gr.ImageEditor) -> gr.ImageEditor:
    """Make ``canvas`` refuse, before decoding them, images over the limits of ``limits.py``.

    A canvas over a limit is an error the page shows (``gr.Error``) and a script receives.
    """
    # Wrapped on the instance: Gradio writes a .pyi stub beside any module defining a subclass.
    decode = canvas.preprocess

    def preprocess(payload: EditorData | None) -> Any:
        if payload is not None:
            try:
                check_payload(payload, canvas.blob_storage)
            except ImageError as err:
                raise gr.Error(f"{err}.", print_exception=False) from None
        return decode(payload)

    canvas.preprocess = preprocess  # type: ignore[method-assign]
    return canvas


def check_payload(payload: EditorData, blobs: dict[str, Any]) -> None:
    """Check each image a canvas sends: its files, or the bytes the page uploaded in pieces.

    Raises:
        ImageError: Over a limit of ``limits.py``.

    """
    cached = blobs.get(payload.id) if payload.id is not None else None
    source: Any = cached if cached is not None else payload
    layers = list(source.layers or [])
    check_layers(len(layers))
    for image in (source.background, *layers, source.composite):
        if image is None or isinstance(image, bytes):
            check_canvas_image(image)
        else:  # FileData: a file Gradio received
            check_canvas_image(Path(image.path))
