"""`bg_image`: composite the cut-out onto an image scaled to cover the output and centred."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from gateway.errors import GatewayError, InvalidOption
from gateway.postprocess.frame import Frame
from gateway.postprocess.validate import probe_image

_STRIPE_ROWS = 256


def check_background(data: bytes, max_bytes: int, max_pixels: int, name: str = "bg_image") -> None:
    """A 400 naming the option unless `data` is an accepted image within the limits."""
    try:
        probe_image(data, max_bytes, max_pixels)
    except GatewayError as exc:
        raise InvalidOption(f"option `{name}`: {exc.detail}") from None


def load_background(data: bytes) -> np.ndarray:
    """The background as upright straight-alpha RGBA pixels (first frame of an animation)."""
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        upright = ImageOps.exif_transpose(image)
        return np.asarray(upright.convert("RGBA"))


def cover(background: np.ndarray, width: int, height: int) -> np.ndarray:
    """`background` scaled (aspect kept) to cover width x height, then centre-cropped to it."""
    bg_h, bg_w = background.shape[:2]
    if (bg_w, bg_h) == (width, height):
        return background
    factor = max(width / bg_w, height / bg_h)
    size = (max(width, round(bg_w * factor)), max(height, round(bg_h * factor)))
    resized = np.asarray(Image.fromarray(background).resize(size, Image.Resampling.LANCZOS))
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return resized[top:top + height, left:left + width]


def compose(frame: Frame, background: np.ndarray) -> Frame:
    """The frame over `background` (RGBA, any size; covered and centred), straight alpha."""
    under = cover(background, frame.width, frame.height)
    rgb = np.empty((frame.height, frame.width, 3), np.uint8)
    alpha = np.empty((frame.height, frame.width), np.uint8)
    for top in range(0, frame.height, _STRIPE_ROWS):
        rows = slice(top, top + _STRIPE_ROWS)
        a = frame.alpha[rows].astype(np.float32) * (1 / 255)
        b = under[rows, :, 3].astype(np.float32) * (1 / 255)
        out = a + b * (1.0 - a)
        weight = (a / np.maximum(out, 1e-6))[:, :, None]
        mixed = frame.rgb[rows] * weight + under[rows, :, :3] * (1.0 - weight)
        rgb[rows] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        alpha[rows] = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    return Frame(rgb=rgb, alpha=alpha)
