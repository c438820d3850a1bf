"""What the demo accepts from a browser or a script, checked before anything is decoded.

Everything a page exposes can be called directly (Gradio's API), so each limit holds for any
client, not only for the page's own canvas and upload button:

- a request body of at most ``MAX_REQUEST_BYTES`` (``BodyLimit``; uploads also stop at Gradio's
  ``max_file_size``);
- a canvas of PNG images only, at most ``MAX_CANVAS_PIXELS`` each and ``MAX_LAYERS`` layers,
  checked from their headers before Gradio decodes them (``check_canvas``; the page's canvas is
  400x400 pixels);
- an uploaded image within the budget of ``preprocess.open_image`` and ``MAX_SECONDS``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from mnist_lit.data.preprocess import ImageError

MAX_REQUEST_BYTES = 24 * 2**20
"""Largest request body (a 20 MB upload and its form)."""

MAX_CANVAS_PIXELS = 4_000_000
"""Most pixels of each image of the canvas (background, layers, composite): 2000x2000, five times
the page's 400x400 canvas at a high-resolution screen's scale."""

MAX_LAYERS = 2
"""Most drawing layers a canvas may send (the page's canvas has one)."""

MAX_SECONDS = 5.0
"""Time limit for decoding an uploaded image, so that the next user is not kept waiting."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class RequestTooLarge(Exception):
    """A request's body went past the limit while it was read."""


class BodyLimit:
    """ASGI middleware: refuse a request whose body is over ``max_bytes``.

    A declared ``Content-Length`` over the limit gets ``413`` before anything is read; a body that
    grows past it while read (no length declared) is cut off with ``RequestTooLarge``.

    Args:
        app: The ASGI application (Gradio's FastAPI app).
        max_bytes: Largest body accepted.

    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_bytes:
            body = f"request body over {self.max_bytes // 2**20} MB\n".encode()
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        read = 0

        async def limited() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.max_bytes:
                raise RequestTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)


def check_canvas_image(image: Path | bytes | None) -> None:
    """Check one image of a canvas from its header: a PNG of at most ``MAX_CANVAS_PIXELS``.

    Args:
        image: The file Gradio received, or its bytes; ``None`` (no background) passes.

    Raises:
        ImageError: Another format, a damaged header or too many pixels.

    """
    if image is None:
        return
    try:
        with warnings.catch_warnings():  # the size is checked below, against a lower limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = image if isinstance(image, Path) else io.BytesIO(image)
            with Image.open(source, formats=["PNG"]) as opened:
                width, height = opened.size
    except Image.DecompressionBombError:  # over twice Pillow's limit
        raise ImageError(f"a canvas over the limit of {MAX_CANVAS_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise ImageError("the canvas must be sent as PNG images") from None
    except Exception as err:  # a damaged header
        raise ImageError(f"the canvas cannot be read: {err}") from None
    if width * height > MAX_CANVAS_PIXELS:
        raise ImageError(
            f"a canvas of {width}x{height} pixels is over the limit of {MAX_CANVAS_PIXELS:,}"
        )


def check_layers(count: int) -> None:
    """Refuse a canvas with more than ``MAX_LAYERS`` layers.

    Raises:
        ImageError: Too many layers.

    """
    if count > MAX_LAYERS:
        raise ImageError(f"a canvas with {count} layers: at most {MAX_LAYERS}")
