"""The image part an adapter uploads: the original when the vendor takes it as is, else a re-encode.

A re-encode is upright (EXIF orientation applied: a vendor that ignores it would answer a rotated
cutout), PNG when the image has alpha, else a JPEG (optionally a proxy with a capped long side);
it runs in a worker thread. When even that is over the vendor's byte limit, ProviderProtocolError
is raised before any call (another provider may still serve the image, and no credit is spent).
Only JPEG originals are checked for an EXIF rotation: reading a PNG's EXIF means decoding it.
"""

from __future__ import annotations

import io

import anyio.to_thread
import msgspec
from PIL import Image, ImageOps

from providers.base import ProviderRequest
from providers.errors import ProviderProtocolError, ProviderRejected
from providers.images import MEDIA_TYPES, encode_jpeg, encode_png, open_rgb, proxy_size

_EXIF_ORIENTATION = 0x0112
REENCODE_QUALITY = 95


class ImagePart(msgspec.Struct, frozen=True):
    """The file part of a multipart upload."""

    data: bytes
    media_type: str
    filename: str
    width: int
    height: int
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


def original_part(request: ProviderRequest) -> ImagePart:
    """The request's bytes as they came."""
    fmt = request.image_format
    suffix = "jpg" if fmt == "jpeg" else fmt
    return ImagePart(request.image, MEDIA_TYPES[fmt], f"image.{suffix}", request.width,
                     request.height)


def _checked(part: ImagePart, limit: int | None, provider: str) -> ImagePart:
    if limit is not None and len(part.data) > limit:
        raise ProviderProtocolError(
            f"{provider}: upload of {len(part.data)} bytes exceeds the {limit} byte limit", provider
        )
    return part


def jpeg_part(
    request: ProviderRequest, long_side: int | None, quality: int, limit: int | None,
    provider: str,
) -> ImagePart:
    """An upright RGB JPEG, its longer side at most `long_side` (None: full size); CPU work."""
    try:
        image = open_rgb(request.image, long_side)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderRejected(f"{provider}: the image cannot be decoded", provider) from exc
    if long_side is not None:
        size = proxy_size(image.width, image.height, long_side)
        if size != image.size:
            image = image.resize(size, Image.Resampling.LANCZOS)
    data = encode_jpeg(image, quality)
    part = ImagePart(data, MEDIA_TYPES["jpeg"], "image.jpg", image.width, image.height, True)
    return _checked(part, limit, provider)


def reencode(request: ProviderRequest, limit: int | None, provider: str) -> ImagePart:
    """An upright PNG (alpha) or full-size JPEG (opaque) of the request's image; CPU work."""
    try:
        with Image.open(io.BytesIO(request.image)) as opened:
            opened.seek(0)
            alpha = "A" in opened.getbands() or "transparency" in opened.info
            image = ImageOps.exif_transpose(opened).convert("RGBA") if alpha else None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderRejected(f"{provider}: the image cannot be decoded", provider) from exc
    if image is None:
        return jpeg_part(request, None, REENCODE_QUALITY, limit, provider)
    data = encode_png(image, 6)
    part = ImagePart(data, MEDIA_TYPES["png"], "image.png", image.width, image.height, True)
    return _checked(part, limit, provider)


async def image_part(
    request: ProviderRequest, accepted: frozenset[str], limit: int | None, provider: str
) -> ImagePart:
    """The original bytes when the vendor takes them, else a re-encode made in a worker thread."""
    if not needs_reencode(request, accepted, limit):
        return original_part(request)
    return await anyio.to_thread.run_sync(reencode, request, limit, provider)
