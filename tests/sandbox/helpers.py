"""Image helpers for the sandbox tests."""

from __future__ import annotations

from PIL import Image, ImageDraw


def subject_image(width: int = 256, height: int = 192) -> Image.Image:
    """A red ellipse (the subject) in the middle of a flat green background."""
    image = Image.new("RGB", (width, height), (30, 160, 60))
    ImageDraw.Draw(image).ellipse(
        (width * 0.3, height * 0.25, width * 0.7, height * 0.75), fill=(200, 40, 40)
    )
    return image




def corrupt_jpeg() -> bytes:
    """JPEG magic bytes followed by garbage: sniffs as JPEG, cannot be decoded."""
    return b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64
