"""`scale` and `position`: resize the subject relative to the canvas and place it (remove.bg).

`scale=N%` fits the subject's box into N % of the canvas (both sides); `position` puts the box's
left/top at that fraction of the free space (`0%` left/top, `50%` centred, `100%` right/bottom).
`original` keeps the size (scale) or the box's centre (position).
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from gateway.errors import InvalidOption
from gateway.postprocess.frame import Frame
from gateway.postprocess.steps import crop_box

_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%?$")
CENTER = (50.0, 50.0)


def _percent(name: str, text: str, low: float) -> float:
    match = _PERCENT.match(text)
    if not match or not low <= float(match.group(1)) <= 100:
        raise InvalidOption(
            f"option `{name}` must be `original` or a percentage from {low:g}% to 100%; "
            f"got {text!r:.40}"
        )
    return float(match.group(1))


def parse_scale(name: str, value: str) -> float | None:
    """`original` -> None, `10%`..`100%` -> the percentage."""
    text = value.strip().lower()
    return None if text == "original" else _percent(name, text, 10)


def parse_position(name: str, value: str) -> tuple[float, float] | None:
    """`original` -> None, `center` -> (50, 50), `N%` -> (N, N), `H% V%` -> (H, V)."""
    text = value.strip().lower()
    if text == "original":
        return None
    if text in ("center", "centre"):
        return CENTER
    parts = text.replace(",", " ").split()
    if len(parts) not in (1, 2):
        raise InvalidOption(
            f"option `{name}` must be original, center, `N%` or `H% V%`; got {value!r:.40}"
        )
    values = [_percent(name, part, 0) for part in parts]
    return values[0], values[-1]


def target_box(
    box: tuple[int, int, int, int], canvas: tuple[int, int], scale: float | None,
    position: tuple[float, float] | None,
) -> tuple[int, int, int, int]:
    """Where the subject's box (x0, y0, x1, y1) goes on `canvas`: (left, top, width, height)."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    canvas_w, canvas_h = canvas
    factor = 1.0
    if scale is not None:
        factor = scale / 100 * min(canvas_w / width, canvas_h / height)
    new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
    if position is None:
        left = round((x0 + x1) / 2 - new_w / 2)
        top = round((y0 + y1) / 2 - new_h / 2)
    else:
        left = round((canvas_w - new_w) * position[0] / 100)
        top = round((canvas_h - new_h) * position[1] / 100)
    return left, top, new_w, new_h


def place(frame: Frame, scale: float | None, position: tuple[float, float] | None) -> Frame:
    """Resize the subject (alpha > 10) and move it on a transparent canvas of the same size."""
    box = crop_box(np.ascontiguousarray(frame.alpha), None)
    if box is None:
        return frame
    left, top, new_w, new_h = target_box(box, (frame.width, frame.height), scale, position)
    x0, y0, x1, y1 = box
    if (left, top, new_w, new_h) == (x0, y0, x1 - x0, y1 - y0):
        return frame
    subject = Image.fromarray(np.dstack((frame.rgb[y0:y1, x0:x1], frame.alpha[y0:y1, x0:x1])))
    if (new_w, new_h) != subject.size:
        # Pillow resizes RGBA premultiplied: transparent pixels' colours do not bleed in.
        upscale = new_w > subject.width
        method = Image.Resampling.BICUBIC if upscale else Image.Resampling.LANCZOS
        subject = subject.resize((new_w, new_h), method)
    pixels = np.asarray(subject)
    rgb = np.zeros((frame.height, frame.width, 3), np.uint8)
    alpha = np.zeros((frame.height, frame.width), np.uint8)
    # Clip the placed box to the canvas: a subject moved or grown past an edge is cut there.
    dst_x0, dst_y0 = max(0, left), max(0, top)
    dst_x1, dst_y1 = min(frame.width, left + new_w), min(frame.height, top + new_h)
    if dst_x1 > dst_x0 and dst_y1 > dst_y0:
        src = pixels[dst_y0 - top:dst_y1 - top, dst_x0 - left:dst_x1 - left]
        rgb[dst_y0:dst_y1, dst_x0:dst_x1] = src[:, :, :3]
        alpha[dst_y0:dst_y1, dst_x0:dst_x1] = src[:, :, 3]
    return Frame(rgb=rgb, alpha=alpha)
