"""`roi`: only the subject inside a rectangle is kept (remove.bg's `x1 y1 x2 y2`, px or %)."""

from __future__ import annotations

import re

import numpy as np

from gateway.errors import InvalidOption
from gateway.postprocess.frame import Frame
from providers.base import Length, Roi

_VALUE = re.compile(r"^(\d+(?:\.\d+)?)(px|%)?$")
_SEPARATORS = re.compile(r"[\s,]+")
Box = tuple[int, int, int, int]


class RoiOutOfBounds(InvalidOption):
    """A pixel coordinate of `roi` lies outside the image (still `invalid_option`)."""


class RoiEmpty(InvalidOption):
    """`roi` has no area (still `invalid_option`)."""


def _length(name: str, text: str) -> Length:
    match = _VALUE.match(text.lower())
    if not match:
        raise InvalidOption(
            f"option `{name}` must be four values like '10px 20px 300px 400px' or "
            f"'0% 0% 100% 100%'; got {text!r:.40}"
        )
    value, unit = float(match.group(1)), match.group(2) or "px"
    if unit == "%" and value > 100:
        raise InvalidOption(f"option `{name}`: a percentage must be at most 100%")
    return Length(value, "%" if unit == "%" else "px")


def parse_roi(name: str, value: str) -> Roi | None:
    """`x1 y1 x2 y2` (space/comma separated; px, % or bare pixels) -> Roi; the whole image: None."""
    parts = [p for p in _SEPARATORS.split(value.strip()) if p]
    if len(parts) != 4:
        raise InvalidOption(
            f"option `{name}` must have four values `x1 y1 x2 y2`; got {value!r:.60}"
        )
    x1, y1, x2, y2 = (_length(name, part) for part in parts)
    for low, high in ((x1, x2), (y1, y2)):
        if low.unit == high.unit and high.value <= low.value:
            raise RoiEmpty(f"option `{name}`: the region is empty (x2 <= x1 or y2 <= y1)")
    roi = Roi(x1, y1, x2, y2)
    whole = Roi(Length(0, "%"), Length(0, "%"), Length(100, "%"), Length(100, "%"))
    return None if roi == whole else roi


def _pixels(length: Length, side: int, name: str) -> float:
    if length.unit == "%":
        return length.value / 100 * side
    if length.value > side:
        raise RoiOutOfBounds(f"option `{name}`: {length.value:g}px is outside the {side}px image")
    return length.value


def roi_box(roi: Roi, width: int, height: int, name: str = "roi") -> Box:
    """(x0, y0, x1, y1) in pixels of a `width` x `height` image; outside or empty is a 400."""
    x0, x1 = _pixels(roi.x1, width, name), _pixels(roi.x2, width, name)
    y0, y1 = _pixels(roi.y1, height, name), _pixels(roi.y2, height, name)
    box = round(x0), round(y0), round(x1), round(y1)
    if box[2] <= box[0] or box[3] <= box[1]:
        raise RoiEmpty(f"option `{name}`: the region is empty on this {width}x{height} image")
    return box


def clip_roi(frame: Frame, roi: Roi) -> Frame:
    """Make everything outside `roi` (in the frame's own pixels) fully transparent."""
    x0, y0, x1, y1 = roi_box(roi, frame.width, frame.height)
    alpha = frame.alpha if frame.alpha.flags.writeable else frame.alpha.copy()
    keep = np.zeros(alpha.shape, dtype=bool)
    keep[y0:y1, x0:x1] = True
    alpha[~keep] = 0
    return Frame(rgb=frame.rgb, alpha=alpha)
