"""The ten digits, and a few letters, as a person draws them: pen strokes, not images.

Each digit (and letter) is a list of strokes; a stroke is a polyline of points in the unit square
(x to the right, y down), in the order the pen moves. The browser test replays them as mouse drags
on the demo's canvas; ``render`` draws them with Pillow for tests without a browser.
"""

from __future__ import annotations

import itertools
import math

from PIL import Image, ImageDraw

Point = tuple[float, float]
Stroke = list[Point]


def line(*points: Point, steps: int = 6) -> Stroke:
    """Straight segments through ``points``, each cut into ``steps`` moves."""
    out: Stroke = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        out += [
            (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)
        ]
    return out


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Elliptic arc from angle ``start`` to ``end`` in degrees (0 = right, 90 = down)."""
    steps = max(6, int(abs(end - start) / 15))
    angles = [math.radians(start + (end - start) * i / steps) for i in range(steps + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _eight() -> Stroke:
    # one stroke: from the top, down the right of the upper loop, across the middle, round the
    # lower loop and back up through the middle
    points = []
    for i in range(37):
        t = 2 * math.pi * i / 36
        points.append(
            (
                0.5
                + 0.3 * math.sin(2 * t) * (0.8 if t < math.pi / 2 or t > 1.5 * math.pi else 1.0),
                0.5 - 0.4 * math.cos(t),
            )
        )
    return points


DIGITS: dict[int, list[Stroke]] = {
    0: [arc(0.5, 0.5, 0.3, 0.42, -95, 275)],
    1: [line((0.56, 0.1), (0.46, 0.9))],
    2: [arc(0.5, 0.33, 0.27, 0.23, 200, 380) + line((0.74, 0.45), (0.22, 0.88), (0.82, 0.87))],
    3: [arc(0.48, 0.3, 0.25, 0.2, 210, 450), arc(0.48, 0.7, 0.29, 0.2, 270, 510)],
    4: [line((0.55, 0.1), (0.2, 0.6), (0.85, 0.6)), line((0.66, 0.32), (0.64, 0.92))],
    5: [
        line((0.3, 0.12), (0.27, 0.46)) + arc(0.48, 0.66, 0.27, 0.24, 235, 510),
        line((0.3, 0.12), (0.76, 0.1)),
    ],
    6: [arc(0.68, 0.55, 0.42, 0.47, 260, 140) + arc(0.5, 0.7, 0.24, 0.2, 150, -210)],
    7: [line((0.2, 0.12), (0.8, 0.12), (0.42, 0.9))],
    8: [_eight()],
    9: [arc(0.46, 0.32, 0.24, 0.2, 0, -360) + line((0.7, 0.32), (0.63, 0.92))],
}


LETTERS: dict[str, list[Stroke]] = {
    "A": [line((0.2, 0.9), (0.5, 0.1), (0.8, 0.9)), line((0.32, 0.6), (0.68, 0.6))],
    "E": [line((0.75, 0.1), (0.25, 0.1), (0.25, 0.9), (0.75, 0.9)), line((0.25, 0.5), (0.65, 0.5))],
    "H": [
        line((0.25, 0.1), (0.25, 0.9)),
        line((0.75, 0.1), (0.75, 0.9)),
        line((0.25, 0.5), (0.75, 0.5)),
    ],
    "F": [line((0.7, 0.1), (0.3, 0.1), (0.3, 0.9)), line((0.3, 0.5), (0.6, 0.5))],
    "K": [line((0.25, 0.1), (0.25, 0.9)), line((0.75, 0.1), (0.25, 0.55), (0.75, 0.9))],
    "M": [line((0.15, 0.9), (0.2, 0.1), (0.5, 0.6), (0.8, 0.1), (0.85, 0.9))],
    "N": [line((0.25, 0.9), (0.25, 0.1), (0.75, 0.9), (0.75, 0.1))],
    "R": [
        line(
            (0.3, 0.9), (0.3, 0.1), (0.65, 0.1), (0.72, 0.2), (0.72, 0.4), (0.65, 0.5), (0.3, 0.5)
        ),
        line((0.45, 0.5), (0.75, 0.9)),
    ],
    "W": [line((0.1, 0.1), (0.3, 0.9), (0.5, 0.35), (0.7, 0.9), (0.9, 0.1))],
    "X": [line((0.2, 0.1), (0.8, 0.9)), line((0.8, 0.1), (0.2, 0.9))],
}
"""Letters that look like no digit, for the demo's "Not sure"."""


def render(
    strokes: list[Stroke], size: int = 400, width: int = 28, box: float = 0.7
) -> Image.Image:
    """Draw ``strokes`` in black on white, the digit filling ``box`` of the image's height."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    margin = size * (1 - box) / 2
    for stroke in strokes:
        points = [(margin + x * size * box, margin + y * size * box) for x, y in stroke]
        draw.line(points, fill=0, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    return image
