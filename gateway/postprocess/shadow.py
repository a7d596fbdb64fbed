"""`shadow`: a soft drop shadow from the matte, under the subject, before the background."""

from __future__ import annotations

import cv2
import numpy as np

from gateway.errors import InvalidOption
from gateway.postprocess.frame import Frame

#: Blur radius and downward offset as fractions of the subject-independent canvas size.
BLUR_FRACTION = 0.02
OFFSET_FRACTION = 0.02
_STRIPE_ROWS = 256


def parse_opacity(name: str, value: str) -> int:
    """`0`..`100` (a trailing `%` allowed; remove.bg's `auto` = 50) -> int percent."""
    text = value.strip().lower().removesuffix("%")
    if text == "auto":
        return 50
    try:
        opacity = float(text)
    except ValueError:
        opacity = -1.0
    if not 0 <= opacity <= 100:
        raise InvalidOption(f"option `{name}` must be a number from 0 to 100; got {value!r:.40}")
    return round(opacity)


def shadow_matte(alpha: np.ndarray, opacity: int) -> np.ndarray:
    """The shadow's alpha: the matte blurred, moved down (and a little right), times opacity."""
    height, width = alpha.shape
    side = max(width, height)
    sigma = max(1.0, BLUR_FRACTION * side)
    dy = max(1, round(OFFSET_FRACTION * side))
    dx = max(0, dy // 2)
    shifted = np.zeros_like(alpha)
    if dy < height and dx < width:
        shifted[dy:, dx:] = alpha[: height - dy, : width - dx]
    blurred = cv2.GaussianBlur(shifted, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return cv2.convertScaleAbs(blurred, alpha=opacity / 100)


def drop_shadow(frame: Frame, opacity: int) -> Frame:
    """Composite the subject over its black shadow (Porter-Duff over, straight alpha)."""
    shadow = shadow_matte(np.ascontiguousarray(frame.alpha), opacity)
    rgb = np.array(frame.rgb, dtype=np.uint8, copy=True)
    alpha = np.array(frame.alpha, dtype=np.uint8, copy=True)
    for top in range(0, frame.height, _STRIPE_ROWS):
        rows = slice(top, top + _STRIPE_ROWS)
        a = alpha[rows].astype(np.float32) * (1 / 255)
        s = shadow[rows].astype(np.float32) * (1 / 255)
        out = a + s * (1.0 - a)
        # Black shadow: the colour is the subject's share of the coverage.
        weight = (a / np.maximum(out, 1e-6))[:, :, None]
        rgb[rows] = np.clip(rgb[rows] * weight + 0.5, 0, 255).astype(np.uint8)
        alpha[rows] = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    return Frame(rgb=rgb, alpha=alpha)
