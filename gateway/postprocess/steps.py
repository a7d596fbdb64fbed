"""Small pure pipeline steps: each takes a Frame and returns a Frame, with no I/O."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from gateway.postprocess.frame import Frame
from providers.base import Margin

#: Pixels with alpha above this belong to the subject when cropping.
CROP_ALPHA_THRESHOLD = 10
#: Rows per stripe for the float math of compositing, to keep temporaries small.
_STRIPE_ROWS = 256
OPAQUE_WHITE = (255, 255, 255, 255)


def apply_matte(frame: Frame, matte: np.ndarray) -> Frame:
    """Use `matte` (HxW uint8, any resolution of the same aspect) as the frame's straight alpha."""
    size = (frame.width, frame.height)
    if (matte.shape[1], matte.shape[0]) == size:
        alpha = matte if matte.flags.writeable else matte.copy()
    else:
        upscale = matte.shape[1] < frame.width
        alpha = cv2.resize(
            matte, size, interpolation=cv2.INTER_CUBIC if upscale else cv2.INTER_AREA
        )
    return Frame(rgb=frame.rgb, alpha=alpha)


def clamp_trimap(frame: Frame, trimap: np.ndarray) -> Frame:
    """Force alpha to exactly 0 / 255 where the trimap says background / foreground."""
    np.putmask(frame.alpha, trimap == 0, 0)
    np.putmask(frame.alpha, trimap == 255, 255)
    return frame


def crop_box(alpha: np.ndarray, margin: Margin | None) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around alpha > threshold plus `margin`, clipped; None if nothing is."""
    _, mask = cv2.threshold(alpha, CROP_ALPHA_THRESHOLD, 255, cv2.THRESH_BINARY)
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return None
    pad = 0
    if margin is not None:
        pad = round(margin.value if margin.unit == "px" else margin.value / 100 * max(w, h))
    height, width = alpha.shape
    return max(0, x - pad), max(0, y - pad), min(width, x + w + pad), min(height, y + h + pad)


def crop(frame: Frame, margin: Margin | None) -> Frame:
    """Tight crop to the subject (alpha > 10) plus `margin`; an empty matte is left uncropped."""
    box = crop_box(np.ascontiguousarray(frame.alpha), margin)
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    return Frame(rgb=frame.rgb[y0:y1, x0:x1], alpha=frame.alpha[y0:y1, x0:x1])


def capped_size(width: int, height: int, max_pixels: int, max_side: int) -> tuple[int, int]:
    """Largest size of the same aspect within `max_pixels` and `max_side`; never larger."""
    scale = min(1.0, math.sqrt(max_pixels / (width * height)), max_side / max(width, height))
    if scale >= 1.0:
        return width, height
    return max(1, int(width * scale)), max(1, int(height * scale))


def cap_size(frame: Frame, max_pixels: int, max_side: int) -> Frame:
    """Downscale (premultiplied, Lanczos) to fit `max_pixels` / `max_side`; never upscales."""
    size = capped_size(frame.width, frame.height, max_pixels, max_side)
    if size == (frame.width, frame.height):
        return frame
    # Pillow resizes RGBA premultiplied, so transparent pixels' colours do not bleed in.
    rgba = Image.fromarray(np.dstack((frame.rgb, frame.alpha)))
    small = np.array(rgba.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
    rgb, alpha = small[:, :, :3], small[:, :, 3]
    return Frame(rgb=np.ascontiguousarray(rgb), alpha=np.ascontiguousarray(alpha))


def composite(frame: Frame, color: tuple[int, int, int, int]) -> Frame:
    """Composite the frame over a solid RGBA colour (Porter-Duff over, straight alpha)."""
    if color[3] == 255:
        return _composite_opaque(frame, color)
    background = np.asarray(color[:3], dtype=np.float32)
    background_alpha = color[3] / 255.0
    for top in range(0, frame.height, _STRIPE_ROWS):
        rows = slice(top, top + _STRIPE_ROWS)
        alpha = frame.alpha[rows].astype(np.float32) * (1 / 255)
        out_alpha = alpha + background_alpha * (1.0 - alpha)
        weight = (alpha / np.maximum(out_alpha, 1e-6))[:, :, None]
        rgb = frame.rgb[rows] * weight + background * (1.0 - weight)
        frame.rgb[rows] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        frame.alpha[rows] = np.clip(out_alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    return frame


def _composite_opaque(frame: Frame, color: tuple[int, int, int, int]) -> Frame:
    """Over an opaque colour: rgb·a + bg·(255−a), in uint16 (≤ 255·255 fits), rounded."""
    background = np.asarray(color[:3], dtype=np.uint16)
    for top in range(0, frame.height, _STRIPE_ROWS):
        rows = slice(top, top + _STRIPE_ROWS)
        alpha = frame.alpha[rows].astype(np.uint16)[:, :, None]
        mixed = frame.rgb[rows] * alpha
        mixed += background * (255 - alpha)
        mixed += 127
        mixed //= 255
        frame.rgb[rows] = mixed
    frame.alpha.fill(255)
    return frame


def flatten(frame: Frame) -> Frame:
    """Make the frame opaque by compositing it onto white (for formats without alpha)."""
    if int(frame.alpha.min(initial=255)) == 255:
        return frame
    return composite(frame, OPAQUE_WHITE)
