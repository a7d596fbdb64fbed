"""Encode the final frame once, in the requested format and channels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gateway.postprocess.frame import Frame
from providers.base import Channels, OutputFormat

MEDIA_TYPES: dict[str, str] = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
#: Formats that carry an alpha channel (others are flattened first).
ALPHA_FORMATS = frozenset({"png", "webp"})
#: WebP cannot encode a side longer than this.
WEBP_MAX_SIDE = 16383
PNG_COMPRESS_LEVEL = 2
JPEG_QUALITY = 90
WEBP_QUALITY = 90


def _save(image: Image.Image, output_format: OutputFormat, lossless: bool) -> bytes:
    buffer = io.BytesIO()
    if output_format == "png":
        image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif output_format == "jpg":
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    elif lossless:
        # quality is the effort for lossless WebP; low keeps large mattes fast.
        image.save(buffer, format="WEBP", lossless=True, quality=20, method=1)
    else:
        image.save(buffer, format="WEBP", quality=WEBP_QUALITY, alpha_quality=100, method=2)
    return buffer.getvalue()


def encode(
    frame: Frame, output_format: OutputFormat, channels: Channels, opaque: bool = False
) -> bytes:
    """Encode `frame`: RGBA (RGB for jpg or an `opaque` frame), or the single-channel matte."""
    if channels == "alpha":
        matte = Image.fromarray(np.ascontiguousarray(frame.alpha))
        if output_format == "webp":
            # WebP has no grayscale mode: a lossless RGB image that looks grey.
            return _save(matte.convert("RGB"), output_format, lossless=True)
        return _save(matte, output_format, lossless=True)
    # An opaque bg_color leaves nothing transparent: RGB, as the vendors that do it natively send.
    if output_format in ALPHA_FORMATS and not opaque:
        # putalpha avoids np.dstack's extra full-size interleaving copy.
        image = Image.fromarray(frame.rgb)
        image.putalpha(Image.fromarray(frame.alpha))
    else:
        image = Image.fromarray(np.ascontiguousarray(frame.rgb))
    return _save(image, output_format, lossless=False)
