"""`shadow`: a soft shadow from the matte, under the subject, before the background.

Three looks, one pure function each from the matte to the shadow's alpha (remove.bg's
`shadow_type`): `drop` (the matte blurred and moved down-right), `3d` (the silhouette cast on
the floor: squashed, its base on the subject's bottom edge, reaching towards the viewer) and `car`
(a contact shadow: a flat ellipse as wide as the subject, centred on its bottom edge). The
subject is always composited over its shadow, so a shadow never covers it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import cv2
import numpy as np

from gateway.errors import InvalidOption
from gateway.postprocess.frame import Frame
from providers.base import ShadowType as ShadowKind

_Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) of a subject."""

#: `drop`: blur radius and downward offset as fractions of the subject-independent canvas size.
BLUR_FRACTION = 0.02
OFFSET_FRACTION = 0.02
#: `3d`: the cast silhouette's height as a share of the subject's; blur as a share of that.
FLOOR_SQUASH = 0.2
FLOOR_BLUR = 0.2
#: `car`: the ellipse's half-height (share of the subject's height) and width (share of its width).
CONTACT_HALF_HEIGHT = 0.05
CONTACT_WIDTH = 1.1
#: Alpha at or below this is no subject (the threshold of the foreground box and of crop).
_SUBJECT_ALPHA = 10
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


def _faded(shadow: np.ndarray, sigma: float, opacity: int) -> np.ndarray:
    """`shadow` blurred by `sigma` and scaled to `opacity` percent."""
    blurred = cv2.GaussianBlur(shadow, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return cv2.convertScaleAbs(blurred, alpha=opacity / 100)


def _subject_rows_cols(alpha: np.ndarray) -> _Box | None:
    """(x0, y0, x1, y1) of alpha above the subject threshold, None when there is none."""
    mask = alpha > _SUBJECT_ALPHA
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _beneath_subject(
    draw: Callable[[np.ndarray, _Box, int], np.ndarray],
) -> Callable[[np.ndarray, int], np.ndarray]:
    """`draw(alpha, subject box, opacity)` as a shadow matte; no subject casts no shadow."""
    @functools.wraps(draw)
    def matte(alpha: np.ndarray, opacity: int) -> np.ndarray:
        box = _subject_rows_cols(alpha)
        return np.zeros_like(alpha) if box is None else draw(alpha, box, opacity)

    return matte


def drop_matte(alpha: np.ndarray, opacity: int) -> np.ndarray:
    """`drop`: the matte blurred, moved down (and a little right), times opacity."""
    height, width = alpha.shape
    side = max(width, height)
    dy = max(1, round(OFFSET_FRACTION * side))
    dx = max(0, dy // 2)
    shifted = np.zeros_like(alpha)
    if dy < height and dx < width:
        shifted[dy:, dx:] = alpha[: height - dy, : width - dx]
    return _faded(shifted, max(1.0, BLUR_FRACTION * side), opacity)


@_beneath_subject
def floor_matte(alpha: np.ndarray, box: _Box, opacity: int) -> np.ndarray:
    """`3d`: the silhouette squashed and flipped onto the floor below the subject's base."""
    box = _subject_rows_cols(alpha)
    shadow = np.zeros_like(alpha)
    if box is None:
        return shadow
    _, y0, _, y1 = box
    height, width = alpha.shape
    cast = max(1, round((y1 - y0) * FLOOR_SQUASH))
    squashed = cv2.resize(np.ascontiguousarray(alpha[y0:y1]), (width, cast),
                          interpolation=cv2.INTER_AREA)
    # Flipped: the base touches the subject's bottom edge, the top reaches towards the viewer.
    rows = min(cast, height - y1)
    shadow[y1 : y1 + rows] = squashed[::-1][:rows]
    return _faded(shadow, max(1.0, FLOOR_BLUR * cast), opacity)


@_beneath_subject
def contact_matte(alpha: np.ndarray, box: _Box, opacity: int) -> np.ndarray:
    """`car`: a flat ellipse as wide as the subject, centred on its bottom edge, blurred."""
    shadow = np.zeros_like(alpha)
    x0, y0, x1, y1 = box
    half_height = max(1, round((y1 - y0) * CONTACT_HALF_HEIGHT))
    half_width = max(1, round((x1 - x0) * CONTACT_WIDTH / 2))
    cv2.ellipse(shadow, ((x0 + x1) // 2, y1 - 1), (half_width, half_height), 0, 0, 360, 255, -1)
    return _faded(shadow, max(1.0, half_height / 2), opacity)


SHADOW_MATTES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "drop": drop_matte, "3d": floor_matte, "car": contact_matte,
}


def cast_shadow(frame: Frame, opacity: int, kind: ShadowKind = "drop") -> Frame:
    """Composite the subject over its black shadow of `kind` (Porter-Duff over, straight alpha)."""
    shadow = SHADOW_MATTES[kind](np.ascontiguousarray(frame.alpha), opacity)
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


def drop_shadow(frame: Frame, opacity: int) -> Frame:
    """The `drop` shadow step (the unified API's `shadow`)."""
    return cast_shadow(frame, opacity, "drop")
