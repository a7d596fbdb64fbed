"""Encode and decode test images with Pillow (one place for every test package)."""

from __future__ import annotations

import io

from PIL import Image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """`image` encoded as `fmt` (a Pillow format name); JPEG defaults to quality 92."""
    if fmt.upper() == "JPEG":
        params.setdefault("quality", 92)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    """Decode `data` fully (not lazily)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
