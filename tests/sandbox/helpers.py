"""Image helpers for the sandbox tests."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def subject_image(width: int = 256, height: int = 192) -> Image.Image:
    """A red ellipse (the subject) in the middle of a flat green background."""
    image = Image.new("RGB", (width, height), (30, 160, 60))
    ImageDraw.Draw(image).ellipse(
        (width * 0.3, height * 0.25, width * 0.7, height * 0.75), fill=(200, 40, 40)
    )
    return image


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    """Encode `image` in `fmt` (JPEG at quality 92)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    """Decode an answer's image bytes."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def corrupt_jpeg() -> bytes:
    """JPEG magic bytes followed by garbage: sniffs as JPEG, cannot be decoded."""
    return b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64
