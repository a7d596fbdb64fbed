"""Small image helpers shared by adapters, the local engine and the gateway."""

from __future__ import annotations

import io

from PIL import Image

MEDIA_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
    "tiff": "image/tiff", "bmp": "image/bmp", "gif": "image/gif",
}


def sniff_format(data: bytes) -> str | None:
    """Image format from magic bytes (never from a client's Content-Type), or None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def encode_jpeg(image: Image.Image, quality: int = 92) -> bytes:
    """Encode `image` as an RGB (or grayscale) JPEG."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(image: Image.Image, compress_level: int = 1) -> bytes:
    """Encode `image` as PNG (fast compression: mattes are transient)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def proxy_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Size scaled so the longer side is at most `long_side`, never upscaled."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def open_rgb(data: bytes, reduce_to: int | None = None) -> Image.Image:
    """Decode `data` to RGB with EXIF orientation applied (first frame only).

    With `reduce_to`, a JPEG may be decoded at a reduced scale (DCT scaling) as long as its longer
    side stays at least twice `reduce_to`: for proxies, at a fraction of a full decode's cost.
    """
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        if reduce_to is not None and image.format == "JPEG":
            width, height = proxy_size(image.width, image.height, 2 * reduce_to)
            image.draft("RGB", (width, height))
        oriented = ImageOps.exif_transpose(image)
        return oriented.convert("RGB")
