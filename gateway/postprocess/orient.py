"""One orientation for every provider: an EXIF-rotated original is sent upright.

Vendors disagree on EXIF orientation (some apply it, some ignore it), so the gateway applies it
once, before dispatch: the original is decoded (once), turned upright, and re-encoded without
the tag (JPEG at quality 95 with full chroma, anything else as PNG). Every provider then sees
the same upright pixels and answers in the same geometry. The decoded pixels are kept for
post-processing, so the original is still decoded at most once per request.
"""

from __future__ import annotations

import io

import msgspec
import numpy as np
from PIL import Image

from gateway.errors import GatewayError, InvalidImage
from gateway.postprocess._decode import load_oriented, open_header, to_rgb_array
from gateway.postprocess.validate import ImageInfo

UPRIGHT_JPEG_QUALITY = 95


class Upright(msgspec.Struct, frozen=True):
    """The original turned upright: the bytes sent to providers and its decoded RGB pixels."""

    data: bytes
    format: str
    rgb: np.ndarray


def make_upright(data: bytes, info: ImageInfo, max_pixels: int) -> Upright:
    """Decode, apply the EXIF orientation and re-encode without it (blocking: worker thread)."""
    with open_header(data, info.format, max_pixels) as image:
        try:
            rgb = to_rgb_array(load_oriented(image))
        except GatewayError:
            raise
        except Exception as exc:  # exotic modes Pillow cannot convert
            raise InvalidImage("the image cannot be converted to RGB") from exc
    buffer = io.BytesIO()
    upright = Image.fromarray(rgb)
    if info.format == "jpeg":
        upright.save(buffer, format="JPEG", quality=UPRIGHT_JPEG_QUALITY, subsampling=0)
        return Upright(buffer.getvalue(), "jpeg", rgb)
    upright.save(buffer, format="PNG", compress_level=1)
    return Upright(buffer.getvalue(), "png", rgb)
