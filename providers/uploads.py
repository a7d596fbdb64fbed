"""The image part an adapter uploads: the original when the vendor takes it as is, else a re-encode.

A re-encode is upright (EXIF orientation applied: a vendor that ignores it would answer a rotated
cutout), PNG when the image has alpha, else a quality-95 JPEG; it runs in a worker thread. When even
that is over the vendor's byte limit, ProviderProtocolError is raised before any call (another
provider may still serve the image, and no credit is spent).
"""

from __future__ import annotations

import io

import anyio.to_thread
import msgspec
from PIL import Image, ImageOps

from providers.base import ProviderRequest
from providers.errors import ProviderProtocolError, ProviderRejected
from providers.images import MEDIA_TYPES, encode_png

_EXIF_ORIENTATION = 0x0112
REENCODE_QUALITY = 95


class ImagePart(msgspec.Struct, frozen=True):
    """The file part of a multipart upload."""

    data: bytes
    media_type: str
    filename: str
    reencoded: bool = False


def needs_reencode(request: ProviderRequest, accepted: frozenset[str], limit: int | None) -> bool:
    """True when the original cannot go as is (format, size, or a JPEG's EXIF rotation)."""
    if request.image_format not in accepted:
        return True
    if limit is not None and len(request.image) > limit:
        return True
    if request.image_format != "jpeg":
        return False
    with Image.open(io.BytesIO(request.image)) as image:
        return image.getexif().get(_EXIF_ORIENTATION, 1) != 1


def reencode(request: ProviderRequest, limit: int | None, provider: str) -> ImagePart:
    """An upright PNG (alpha) or JPEG (opaque) of the request's image; CPU work."""
    try:
        with Image.open(io.BytesIO(request.image)) as opened:
            opened.seek(0)
            image = ImageOps.exif_transpose(opened)
            alpha = "A" in image.getbands() or "transparency" in image.info
            image = image.convert("RGBA" if alpha else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderRejected(f"{provider}: the image cannot be decoded", provider) from exc
    if alpha:
        part = ImagePart(encode_png(image, 6), MEDIA_TYPES["png"], "image.png", reencoded=True)
    else:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=REENCODE_QUALITY)
        part = ImagePart(buffer.getvalue(), MEDIA_TYPES["jpeg"], "image.jpg", reencoded=True)
    if limit is not None and len(part.data) > limit:
        raise ProviderProtocolError(
            f"{provider}: upload of {len(part.data)} bytes exceeds the {limit} byte limit", provider
        )
    return part


async def image_part(
    request: ProviderRequest, accepted: frozenset[str], limit: int | None, provider: str
) -> ImagePart:
    """The original bytes when the vendor takes them, else a re-encode made in a worker thread."""
    if not needs_reencode(request, accepted, limit):
        fmt = request.image_format
        suffix = "jpg" if fmt == "jpeg" else fmt
        return ImagePart(request.image, MEDIA_TYPES[fmt], f"image.{suffix}")
    return await anyio.to_thread.run_sync(reencode, request, limit, provider)
