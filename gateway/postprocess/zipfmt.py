"""`format=zip`: remove.bg's ZIP of `color.jpg` (the cut-out's RGB, full size) and `alpha.png`."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from gateway.postprocess.frame import Frame
from providers.base import Channels

ZIP_MEDIA_TYPE = "application/zip"
COLOR_MEMBER = "color.jpg"
ALPHA_MEMBER = "alpha.png"
JPEG_QUALITY = 92


def encode_zip(frame: Frame, channels: Channels) -> bytes:
    """The ZIP (members stored: both are compressed already); `alpha` channels: the matte only."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        if channels == "rgba":
            color = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(frame.rgb)).save(
                color, format="JPEG", quality=JPEG_QUALITY
            )
            archive.writestr(COLOR_MEMBER, color.getvalue())
        matte = io.BytesIO()
        alpha = Image.fromarray(np.ascontiguousarray(frame.alpha))
        alpha.save(matte, format="PNG", compress_level=6)
        archive.writestr(ALPHA_MEMBER, matte.getvalue())
    return buffer.getvalue()


def zip_alpha(data: bytes) -> np.ndarray:
    """The matte of a ZIP answer (HxW uint8)."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as archive,
        archive.open(ALPHA_MEMBER) as member,
        Image.open(member) as image,
    ):
        return np.asarray(image.convert("L"))
